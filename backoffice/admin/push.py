"""Admin for converted.in's tokens (paste one in, revoke it; never shown).

It lives here rather than in backoffice/admin/feeds.py because adding a token is one service
of push (`convertedin_token_add`: the feed's keyed hash and the copy pushes carry, together).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from backoffice.admin_shared import revoke_rows
from feeds.models import FeedToken
from feeds.tokens import feed_token_check, feed_token_revoke
from push.models import WebhookDelivery, WebhookSubscription
from push.tokens import convertedin_token_add
from push.webhooks import (
    TOPICS,
    target_addresses,
    webhook_subscription_create,
    webhook_subscription_update,
)


class FeedTokenAddForm(forms.ModelForm):
    token = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        help_text="Paste the token converted.in gave you. Only its last 4 characters stay "
        "readable; the token itself is never shown again.",
    )

    class Meta:
        model = FeedToken
        fields = ["name"]

    def clean_token(self) -> str:
        try:
            return feed_token_check(self.cleaned_data["token"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["token"]) from exc


@admin.register(FeedToken)
class FeedTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "masked", "created_at", "last_used_at", "status"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "hint"]
    readonly_fields = ["masked", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    @admin.display(description="token")
    def masked(self, obj: FeedToken) -> str:
        return f"…{obj.hint}" if obj.hint else "-"

    @admin.display(description="status")
    def status(self, obj: FeedToken) -> str:
        return "active" if obj.is_active else "revoked"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = FeedTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "token"]
        return ["name", "masked", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        created = convertedin_token_add(name=obj.name, token=form.cleaned_data["token"])
        for field in ("id", "name", "digest", "hint", "created_at"):
            setattr(obj, field, getattr(created, field))

    def has_delete_permission(self, request, obj=None):
        # Revoke instead: the request log keeps pointing at the token.
        return False

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request, queryset):
        done = ("Revoked %d token.", "Revoked %d tokens.")
        revoke_rows(self, request, queryset, revoke=feed_token_revoke, kwarg="token", done=done)


class WebhookSubscriptionForm(forms.ModelForm):
    topics = forms.MultipleChoiceField(
        choices=[(t, t) for t in TOPICS], widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookSubscription
        fields = ["url", "topics", "active"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        target_addresses(url)  # a ValidationError in words, shown on the field
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["url", "active", "topic_count", "created_at", "failing_since", "disabled_at"]
    list_filter = ["active"]
    search_fields = ["url"]
    readonly_fields = [
        "created_at",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "delivery_log",
    ]

    @admin.display(description="deliveries")
    def delivery_log(self, obj: WebhookSubscription) -> str:
        url = reverse("admin:push_webhookdelivery_changelist")
        return format_html('<a href="{}?subscription__id__exact={}">Delivery log</a>', url, obj.pk)

    @admin.display(description="topics")
    def topic_count(self, obj: WebhookSubscription) -> int:
        return len(obj.topics or [])

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["url", "topics", "active"]
        return ["url", "topics", "active", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                webhook_subscription_update(
                    subscription=obj, url=data["url"], topics=data["topics"], active=data["active"]
                )
                return
            created, secret = webhook_subscription_create(
                url=data["url"], topics=data["topics"], active=data["active"]
            )
        except ValidationError as exc:  # checked in clean(); DNS may change in between
            messages.error(request, " ".join(exc.messages))
            return
        obj.pk = created.pk
        messages.warning(
            request,
            f"The signing secret of this subscription is {secret} — copy it now: it is not "
            "shown again.",
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """The webhook delivery log: one row a message to a subscriber, newest first."""

    list_display = [
        "id",
        "subscription",
        "topic",
        "record_id",
        "status",
        "attempts",
        "last_status",
        "last_error",
        "finished_at",
    ]
    list_filter = ["status", "topic", "subscription"]
    list_select_related = ["subscription"]
    show_full_result_count = False
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
