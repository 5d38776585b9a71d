from django.db import models


class RateLimitCount(models.Model):
    """The hits of one rate-limit key in one fixed window (core.ratelimit's database counter).

    Written only by core.ratelimit with one INSERT … ON CONFLICT … RETURNING per hit; rows whose
    window has ended are pruned by later hits.
    """

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="The window's start, in Unix seconds.")
    count = models.IntegerField(default=0)
    expires_at = models.BigIntegerField(help_text="The window's end, in Unix seconds.")

    class Meta:
        ordering = ["key", "window_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window_start"], name="core_ratelimitcount_key_window"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="core_ratelimit_expires_at")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start}: {self.count}"
