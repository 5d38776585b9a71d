"""API keys in the admin: created with the key shown once, revocable, never shown again."""

from django import forms
from django.contrib import admin, messages

from backoffice.admin_shared import OptionsFilter, revoke_rows
from shop.api.models import SCOPES, ApiKey
from shop.api.services import api_key_create, api_key_revoke, api_key_update


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(choices=SCOPES, widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "rate_limit", "expires_at"]


class ActiveFilter(OptionsFilter):
    title = "state"
    parameter_name = "state"
    options = {
        "usable": ("Usable", lambda keys: keys.usable()),
        "revoked": ("Revoked", lambda keys: keys.filter(revoked_at__isnull=False)),
    }


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = [
        "name",
        "prefix",
        "scope_list",
        "rate_limit",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [ActiveFilter]
    search_fields = ["name", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke_selected"]

    @admin.display(description="scopes")
    def scope_list(self, obj) -> str:
        return ", ".join(obj.scopes or [])

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ApiKeyForm.Meta.fields}
        if change:
            api_key_update(api_key=obj, **data)
            return
        created, raw = api_key_create(**data)
        obj.pk = created.pk
        obj.__dict__.update(created.__dict__)
        self.message_user(
            request,
            f"The new API key is {raw} — copy it now: it is not stored and won't be shown again.",
            messages.WARNING,
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request, queryset):
        done = ("%d key revoked.", "%d keys revoked.")
        revoke_rows(self, request, queryset, revoke=api_key_revoke, kwarg="api_key", done=done)
