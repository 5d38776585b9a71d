"""Fixed-window rate limits kept in the shared cache, so every worker process sees one count."""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    retry_after: int


def client_ip(request) -> str:
    """Return the client's address.

    X-Forwarded-For is believed only when settings.TRUSTED_PROXY_COUNT says how many
    proxies of ours stand in front of the app; otherwise a client could reset its own count
    by sending a new header with every request.
    """
    trusted = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if trusted <= 0:
        return remote
    forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [p for p in forwarded if p]
    chain = [*forwarded, remote]
    # Our proxies append to the right: the client is the address the outermost one saw.
    index = max(len(chain) - 1 - trusted, 0)
    return chain[index]


def _window(key: str, window: int) -> tuple[str, int]:
    start = int(time.time()) // window * window
    return f"rl:{key}:{start}", start + window


def peek(key: str, *, limit: int, window: int) -> Verdict:
    """Tell whether `key` is over its limit without counting a hit."""
    cache_key, ends = _window(key, window)
    count = cache.get(cache_key, 0)
    return Verdict(count < limit, count, max(1, ends - int(time.time())))


def hit(key: str, *, limit: int, window: int) -> Verdict:
    """Count one hit for `key` and tell whether it is still within `limit` per `window` s."""
    cache_key, ends = _window(key, window)
    if cache.add(cache_key, 1, timeout=window + 1):
        count = 1
    else:
        try:
            count = cache.incr(cache_key)
        except ValueError:  # expired between add and incr
            cache.set(cache_key, 1, timeout=window + 1)
            count = 1
    return Verdict(count <= limit, count, max(1, ends - int(time.time())))


def reset(key: str, *, window: int) -> None:
    cache.delete(_window(key, window)[0])
