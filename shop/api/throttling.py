"""Per-key rate limits, counted in the shared cache so every worker process agrees."""

from rest_framework.throttling import SimpleRateThrottle

from .models import ApiKey


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limit each API key (or staff member) to its requests per minute."""

    scope = "api"

    def allow_request(self, request, view):
        if isinstance(request.auth, ApiKey) and request.auth.rate_limit:
            self.num_requests, self.duration = request.auth.rate_limit, 60
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"key-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
