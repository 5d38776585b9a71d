"""The converted.in feed's views: POST only, token in the body, every answer JSON."""

import ipaddress
import logging
import time
from dataclasses import dataclass

import orjson
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters

from config import ratelimit

from .builders import ENDPOINTS, PAGED, build_payload, render_endpoint
from .inputs import FeedError, PageRequest, collection_id, page_request, read_body
from .requestlog import feed_request_log
from .tokens import FeedTokenAuthentication

__all__ = ["FeedEndpointView", "build_payload", "not_found", "render_endpoint"]

logger = logging.getLogger(__name__)


def _json(body: dict, status: int, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _client_address(request: HttpRequest) -> str | None:
    try:
        return str(ipaddress.ip_address(request.META.get("REMOTE_ADDR") or ""))
    except ValueError:
        return None


def _count_failure(request: HttpRequest) -> None:
    """Count a wrong token against the client's address in the shared cache; past the limit,
    answer 429 instead of 401 until the window ends.

    Only failures are counted, so the right token costs no extra query and a crawler behind
    the same address as a prober keeps working. The address is REMOTE_ADDR unless
    TRUSTED_PROXY_COUNT says a proxy of ours sets X-Forwarded-For, so a spoofed header does not
    reset the count.
    """
    verdict = ratelimit.hit(
        f"feed-token-fail:{ratelimit.client_ip(request)}",
        limit=settings.FEED_TOKEN_FAILURES_PER_MINUTE,
        window=60,
    )
    if not verdict.allowed:
        raise FeedError(
            429,
            "Too many requests with a wrong token. Try again later.",
            headers={"Retry-After": str(verdict.retry_after)},
        )


@dataclass
class _Seen:
    """What the request log keeps of a request, filled in as the request is read."""

    token_id: int | None = None
    page: PageRequest | None = None
    rows: int = 0


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(sensitive_post_parameters("token"), name="dispatch")
class FeedEndpointView(View):
    """One converted.in endpoint: authenticate, read the page, answer, log the request."""

    endpoint = ""
    authentication = FeedTokenAuthentication()

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        started = time.perf_counter()
        seen = _Seen()
        try:
            response = _json(self.answer(request, seen), 200)
        except FeedError as exc:
            headers = dict(exc.headers)
            if exc.status == 401:
                headers["WWW-Authenticate"] = self.authentication.authenticate_header()
            response = _json(exc.body(), exc.status, headers)
        except (OperationalError, InterfaceError):
            # The database is down or restarting: tell the crawler to come back, not that
            # the store is broken. The connection is re-opened by a later request.
            logger.warning("The %s feed could not reach the database.", self.endpoint)
            response = _json(
                {"message": "The store's database is unavailable. Try again shortly."},
                503,
                {"Retry-After": "5"},
            )
        except Exception:
            # Nothing from the request in the message: its body holds the token.
            logger.exception("The %s feed failed.", self.endpoint)
            response = _json({"message": "Server Error."}, 500)
        feed_request_log(
            endpoint=self.endpoint,
            page=seen.page.page if seen.page else None,
            per_page=seen.page.per_page if seen.page else None,
            status=response.status_code,
            duration_ms=(time.perf_counter() - started) * 1000,
            rows=seen.rows,
            client_address=_client_address(request),
            token_id=seen.token_id,
        )
        return response

    def answer(self, request: HttpRequest, seen: _Seen) -> dict:
        """Return the payload; raise FeedError for any refusal."""
        if request.method != "POST":
            raise FeedError(405, "The feed accepts POST requests only.", headers={"Allow": "POST"})
        if "token" in request.GET:
            raise FeedError(
                400,
                "Send the token in the request body, never in the URL.",
                {"token": ["A token in the URL is refused."]},
            )
        data = read_body(request)
        authenticated = self.authentication.authenticate(data.get("token"))
        if authenticated is None:
            _count_failure(request)
            raise FeedError(401, "Unauthenticated.")
        seen.token_id = authenticated.token_id
        kwargs: dict = {}
        if self.endpoint in PAGED:
            seen.page = kwargs["page"] = page_request(data)
        if self.endpoint == "products":
            kwargs["collection_id"] = collection_id(data)
        payload = ENDPOINTS[self.endpoint](**kwargs)
        seen.rows = len(payload["data"]) if self.endpoint in PAGED else 1
        return payload


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Answer any other path under /convertedin/ with a JSON 404."""
    return _json({"message": "Not found."}, 404)
