"""The feed's own data: converted.in tokens, the request log and live-row counters."""

from django.db import models
from django.db.models import Q

from shop.credentials import Credential


class FeedToken(Credential):
    """A token converted.in sends in the body; only its keyed hash is stored."""

    name = models.CharField(max_length=100, help_text="Who or what uses this token.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    hint = models.CharField(max_length=4, editable=False, help_text="Last 4 characters.")

    class Meta(Credential.Meta):
        verbose_name = "feed token"

    def __str__(self) -> str:
        return f"{self.name} (…{self.hint})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class FeedRequest(models.Model):
    """One request to the feed: what was asked, how it was answered. Never the token."""

    endpoint = models.CharField(max_length=32)
    page = models.BigIntegerField(null=True, blank=True)
    per_page = models.PositiveIntegerField(null=True, blank=True)
    status = models.PositiveSmallIntegerField()
    duration_ms = models.FloatField()
    rows = models.PositiveIntegerField(default=0)
    client_address = models.GenericIPAddressField(null=True, blank=True)
    token = models.ForeignKey(
        FeedToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "feed request"

    def __str__(self) -> str:
        return f"{self.endpoint} page {self.page} → {self.status}"


class RequestLogPolicy(models.Model):
    """The request log's limits, as the database's triggers read them: one row, written by the
    app from its settings (feeds/requestlog.py)."""

    keep_days = models.PositiveIntegerField()
    keep_rows = models.PositiveBigIntegerField()
    prune_every = models.PositiveIntegerField()
    touch_seconds = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="requestlogpolicy_single_row"),
            models.CheckConstraint(
                condition=Q(keep_days__gte=1, keep_rows__gte=1, prune_every__gte=1),
                name="requestlogpolicy_limits_positive",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"keep {self.keep_days} days, {self.keep_rows} rows; prune every "
            f"{self.prune_every}; touch tokens every {self.touch_seconds} s"
        )


class LiveBlock(models.Model):
    """How many live (not soft-deleted) rows of a table have ids in one block of ids.

    Two levels per table: entity "order" counts blocks of 1,000 ids, "order/64k" blocks of
    64,000. Database triggers keep the counts in the same transaction as every write, so a
    page at any depth is found by summing a few dozen small rows instead of counting or
    skipping a million (see feeds/selectors.py).
    """

    entity = models.CharField(max_length=16)
    block = models.BigIntegerField()
    live = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["entity", "block"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "block"], name="liveblock_entity_block"),
        ]
        indexes = [
            models.Index(fields=["entity", "block", "live"], name="liveblock_covering"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} block {self.block}: {self.live}"
