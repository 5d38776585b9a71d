"""The push outbox: one row per change to send to converted.in, and the push's state."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from feeds.models import FeedToken

ACTIONS = ("create", "update", "delete")


class PushEvent(models.Model):
    """A change of one record, written in the same transaction as the change itself."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    # The feed's endpoint name of the record: orders, customers, products, categories.
    entity = models.CharField(max_length=16)
    record_id = models.BigIntegerField()
    action = models.CharField(max_length=8)  # create, update, delete
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    # When a waiting event may be tried; for one being sent, when its claim lapses.
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    topic = models.CharField(max_length=32, blank=True, default="")
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The last try's failure in words, and the exception class behind it (empty for an answer).
    last_error = models.TextField(blank=True, default="")
    error_class = models.CharField(max_length=64, blank=True, default="")
    # The start of converted.in's last answer: at most PUSH_ANSWER_BYTES are read and kept.
    last_answer = models.TextField(blank=True, default="")
    # Waiting changes of a record go out as one push: its latest event carries it, and the
    # others point at that carrier, so the delivery log shows one row a push. Pruning deletes
    # a push's events together (same status and finish), hence no database constraint.
    carried_by = models.ForeignKey(
        "self",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="carried",
    )
    duration_ms = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Copied to the store's webhook subscriptions yet (push/webhooks.py fans out).
    fanned_out = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "push event"
        indexes = [
            models.Index(fields=["id"], condition=Q(fanned_out=False), name="pushevent_to_fan_out"),
            models.Index(fields=["status", "due_at"], name="pushevent_status_due"),
            models.Index(fields=["entity", "record_id", "id"], name="pushevent_record"),
            models.Index(fields=["finished_at"], name="pushevent_finished"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=ACTIONS),
                name="pushevent_action_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} #{self.record_id} {self.action}: {self.status}"

    @property
    def changes(self) -> list[tuple[str, int]]:
        """The changes this push carried, as (action, count) in the order create, update,
        delete; read from the counts `push.selectors.delivery_log` annotates."""
        counts = {action: getattr(self, f"carried_{action}", 0) for action in ACTIONS}
        counts[self.action] += 1
        return [(action, n) for action, n in counts.items() if n]

    @property
    def change_count(self) -> int:
        return sum(n for _, n in self.changes)

    @property
    def own_topic(self) -> str:
        """The webhook topic of this change alone."""
        from .outbox import TOPIC_PREFIX  # the outbox imports this module

        return f"{TOPIC_PREFIX[self.entity]}/{self.action}"


class PushState(models.Model):
    """One row: the token pushes carry (encrypted) and whether pushing is paused."""

    class Pause(models.TextChoices):
        NONE = "", "On"
        MANUAL = "manual", "Paused by staff"
        REFUSED = "refused", "converted.in refused the token"

    token = models.ForeignKey(FeedToken, on_delete=models.SET_NULL, null=True, blank=True)
    token_ciphertext = models.TextField(blank=True, default="", editable=False)
    paused = models.CharField(max_length=8, choices=Pause.choices, blank=True, default="")
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="pushstate_single_row"),
        ]

    def __str__(self) -> str:
        return self.get_paused_display()

    @classmethod
    def load(cls) -> "PushState":
        state, _ = cls.objects.get_or_create(pk=1)
        return state


class WebhookSubscription(models.Model):
    """A system of the store's own that receives signed webhooks of the topics it chose."""

    url = models.URLField("target URL", max_length=2000)
    topics = models.JSONField(default=list, help_text="Topics such as orders/create.")
    active = models.BooleanField(default=True)
    # The signing secret (whsec_…), encrypted like the push token: shown once, at creation.
    secret_ciphertext = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Since when every try failed; a subscriber failing for WEBHOOK_DISABLE_AFTER is disabled.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["id"]
        verbose_name = "webhook subscription"

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One change for one subscription: claimed, retried and logged on its own."""

    Status = PushEvent.Status

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The outbox change it came from (events are pruned, hence no constraint).
    event_id = models.BigIntegerField()
    entity = models.CharField(max_length=16)
    record_id = models.BigIntegerField()
    topic = models.CharField(max_length=32)
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    error_class = models.CharField(max_length=64, blank=True, default="")
    last_answer = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["status", "due_at"], name="webhookdelivery_status_due"),
            models.Index(
                fields=["subscription", "status", "due_at"], name="webhookdelivery_sub_due"
            ),
            models.Index(fields=["finished_at"], name="webhookdelivery_finished"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhookdelivery_once_per_event"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic} #{self.record_id}: {self.status}"

    @property
    def message_id(self) -> str:
        """The webhook-id: the same on every try, so receivers can de-duplicate."""
        return f"msg_{self.pk}"
