"""Per-key rate limits, counted atomically (core.ratelimit) so every worker process agrees."""

from rest_framework.throttling import SimpleRateThrottle

from core import ratelimit

from .models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limit each API key to its own requests per minute (or the "api" rate), and each staff
    member or other client to the "api" rate.

    Each request is one atomic hit on a fixed window's counter and is refused (429 with
    Retry-After, in the API's error shape) when the count it wrote is over the limit: at most
    the limit passes in a window whatever the concurrency. SimpleRateThrottle supplies the
    rate's parsing and the identity; its read-then-write history is not used.
    """

    scope = "api"

    def allow_request(self, request, view) -> bool:
        limit, window = self.parse_rate(self.rate)
        if isinstance(request.auth, ApiKey) and request.auth.rate_limit:
            limit, window = request.auth.rate_limit, 60
        if limit is None or window is None:
            return True
        verdict = ratelimit.hit(self.get_cache_key(request, view), limit=limit, window=window)
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self) -> int:
        return self.retry_after

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
