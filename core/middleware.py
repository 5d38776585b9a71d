"""Request logging, admin login protection, and what every request is refused or told."""

import hashlib
import json
import logging
import re
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.urls import reverse

from core import ratelimit

request_log = logging.getLogger("request")

# Paths machine clients call: errors there answer JSON, and plain HTTP there is refused.
MACHINE_PREFIXES = ("/api/", "/convertedin/", "/healthz")


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# A path under /convertedin/ beyond the endpoint's name may hold a token a client put there
# by mistake: logs keep the endpoint's name only.
FEED_PATH = re.compile(r"^(/convertedin/[^/]*)/.+$")


def loggable_path(path: str) -> str:
    return FEED_PATH.sub(r"\1/…", path)


class RedactFeedPaths(logging.Filter):
    """Keep Django's own warnings ("Not Found: /convertedin/orders/<token>") from writing a
    path under /convertedin/ beyond the endpoint's name."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(loggable_path(a) if isinstance(a, str) else a for a in record.args)
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):
            record.request = None
        return True


class RequestLogMiddleware:
    """Log each request as one line: method, path (never the query string or body, where a
    token could be), status, duration and client address."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        request_log.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": loggable_path(request.path),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client": ratelimit.client_ip(request),
                }
            },
        )
        return response


def login_throttle_name(username: str) -> str:
    """The username as Django authenticates it (the login form strips it, the backend matches
    it NFKC-normalised and in its case), hashed: a cache key never holds raw input."""
    from django.contrib.auth.base_user import AbstractBaseUser

    name = AbstractBaseUser.normalize_username(username.strip())
    return hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()


class AdminLoginThrottleMiddleware:
    """Check at most ADMIN_LOGIN_FAILURES_PER_USER wrong passwords for one username and
    ADMIN_LOGIN_FAILURES_PER_ADDRESS from one client address in each fixed window of
    ADMIN_LOGIN_WINDOW_SECONDS, whatever the concurrency.

    Each POST to the login counts one attempt against its address and its username, atomically
    (core.ratelimit), before its password is checked. If either count it wrote is over its
    limit, the answer is 429 with Retry-After and the password is not checked. Afterwards the
    attempt keeps its counts only if its password was checked and found wrong (the form shown
    again, 200); any other outcome takes them back: a successful login (302), a refusal (429),
    a form refused before its password was checked (e.g. CSRF, 403). So only wrong passwords
    spend the budget, a user's own logins never do, and an attempt in flight holds its place
    until its answer is known.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.limit_user = getattr(settings, "ADMIN_LOGIN_FAILURES_PER_USER", 5)
        self.limit_ip = getattr(settings, "ADMIN_LOGIN_FAILURES_PER_ADDRESS", 20)
        self.window = getattr(settings, "ADMIN_LOGIN_WINDOW_SECONDS", 300)

    def __call__(self, request):
        if request.method != "POST" or request.path != reverse("admin:login"):
            return self.get_response(request)
        ip = ratelimit.client_ip(request)
        username = login_throttle_name(request.POST.get("username", ""))
        keys = [(f"login-ip:{ip}", self.limit_ip), (f"login-user:{username}", self.limit_user)]
        verdicts: list[ratelimit.Verdict] = []
        try:
            for key, limit in keys:
                verdicts.append(ratelimit.hit(key, limit=limit, window=self.window))
        except (ratelimit.CounterUnavailable, OperationalError, InterfaceError):
            # No attempt is checked uncounted.
            response = HttpResponse(
                "Logins cannot be checked right now. Try again in a moment.",
                status=503,
                content_type="text/plain",
            )
            response["Retry-After"] = str(ratelimit.CounterUnavailable.wait)
        else:
            refused = [verdict for verdict in verdicts if not verdict.allowed]
            if refused:
                response = HttpResponse(
                    "Too many failed login attempts. Try again in a few minutes.",
                    status=429,
                    content_type="text/plain",
                )
                response["Retry-After"] = str(max(verdict.retry_after for verdict in refused))
            else:
                response = self.get_response(request)
        if response.status_code != 200:  # not a wrong password: give the attempt back
            self._take_back(verdicts)
        return response

    def _take_back(self, verdicts: list[ratelimit.Verdict]) -> None:
        try:
            for verdict in verdicts:
                ratelimit.take_back(verdict)
        except (ratelimit.CounterUnavailable, OperationalError, InterfaceError):
            # The answer stands; the attempt stays counted until its window ends.
            logging.getLogger("config.login").warning("could not give a login attempt back")


class DatabaseUnavailableMiddleware:
    """Answer 503 with Retry-After, not 500, while the database cannot be reached; the
    connection is re-established by itself on a later request (CONN_HEALTH_CHECKS)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logging.getLogger("django.db").warning(
            "database unavailable", extra={"fields": {"error": type(exception).__name__}}
        )
        response = JsonResponse(
            {"message": "The store's database is unavailable. Try again shortly."}, status=503
        )
        response["Retry-After"] = "5"
        return response


def _nul_fields(values) -> list[str]:
    return [
        key.replace("\x00", "\\0")
        for key in values
        if "\x00" in key or any("\x00" in v for v in values.getlist(key))
    ]


class RefuseNulMiddleware:
    """Refuse a query string or urlencoded form field holding a NUL character with 400: no
    database stores one (PostgreSQL refuses it), so no filter, search or login may pass it
    on. (JSON and multipart bodies are validated field by field by their views.)"""

    message = "A parameter holds a NUL character."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        fields = _nul_fields(request.GET)
        if not fields and request.content_type == "application/x-www-form-urlencoded":
            try:
                fields = _nul_fields(request.POST)
            except Exception:  # noqa: BLE001 - an unreadable body is the view's to answer
                fields = []
        if not fields:
            return self.get_response(request)
        errors = {name: ["NUL characters are not allowed."] for name in fields}
        if request.path.startswith("/api/"):
            body = {"status": 400, "code": "invalid", "message": self.message, "errors": errors}
            return JsonResponse(body, status=400)
        if request.path.startswith("/convertedin/"):
            return JsonResponse({"message": self.message, "errors": errors}, status=400)
        return HttpResponse(self.message, status=400, content_type="text/plain; charset=utf-8")


class RefusePlainHttpMiddleware:
    """With SECURE_SSL_REDIRECT on, a machine client that called the feed or the API over
    plain HTTP gets a JSON 403 telling it to use HTTPS, not a redirect: its token or key has
    already crossed the network in clear, and a redirected POST turns into a GET."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            if request.path.startswith(MACHINE_PREFIXES) and request.path != "/healthz":
                return JsonResponse(
                    {
                        "message": "Use HTTPS: this endpoint refuses plain HTTP. "
                        "Revoke any token or key sent over it."
                    },
                    status=403,
                )
        return self.get_response(request)
