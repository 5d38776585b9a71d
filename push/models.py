"""The push outbox: one row per change to send to converted.in, and the push's state."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from feeds.models import FeedToken


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
    last_error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "push event"
        indexes = [
            models.Index(fields=["status", "due_at"], name="pushevent_status_due"),
            models.Index(fields=["entity", "record_id", "id"], name="pushevent_record"),
            models.Index(fields=["finished_at"], name="pushevent_finished"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["create", "update", "delete"]),
                name="pushevent_action_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} #{self.record_id} {self.action}: {self.status}"


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
