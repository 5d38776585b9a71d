"""Who may read the feed: converted.in, by the token in the request's body."""

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.throttling import BaseThrottle

from core import ratelimit
from core.principals import MachineClient

from .tokens import feed_token_match


class FeedTokenAuthentication(BaseAuthentication):
    """Authenticate a feed request by the `token` field of its body; `request.auth` is the
    token's id.

    A missing, wrong or revoked token authenticates nobody (None, not AuthenticationFailed):
    the view's permission then refuses it with one 401 for all three, after counting it
    against the client (WrongTokenThrottle).
    """

    def authenticate(self, request) -> tuple[MachineClient, int] | None:
        token_id = feed_token_match(request.data.get("token"))
        if token_id is None:
            return None
        return MachineClient(f"feed token {token_id}"), token_id

    def authenticate_header(self, request) -> str:
        return 'Token realm="convertedin"'


class WrongTokenThrottle(BaseThrottle):
    """Past settings.FEED_TOKEN_FAILURES_PER_MINUTE wrong tokens from a client address in a
    minute, answer 429 instead of 401 until the minute ends.

    Only failures count: the right token costs no count, and a crawler behind the same
    address as a prober keeps working. The address is core.ratelimit.client_ip's, which
    believes X-Forwarded-For only as far as TRUSTED_PROXY_COUNT says, so a spoofed header does
    not reset the count. Each wrong token is one atomic hit on a fixed window's counter
    (core.ratelimit), decided on the count it wrote: at most the limit of wrong tokens are
    answered 401 in a window, whatever the concurrency.
    """

    window = 60

    def allow_request(self, request, view) -> bool:
        if request.auth is not None:
            return True
        verdict = ratelimit.hit(
            f"feed-token-fail:{self.get_ident(request)}",
            limit=settings.FEED_TOKEN_FAILURES_PER_MINUTE,
            window=self.window,
        )
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def get_ident(self, request) -> str:
        return ratelimit.client_ip(request)

    def wait(self) -> int:
        return self.retry_after
