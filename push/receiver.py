"""A stand-in for converted.in's webhook endpoint, so that `make run` never pushes to the real
converted.in: local settings turn it on (PUSH_LOCAL_RECEIVER) and point
CONVERTEDIN_WEBHOOK_URL at it. It answers every push 200 and keeps the last RECEIVED_KEPT in
this process's memory; staff read them at /dev/convertedin/. Off, every URL here is a 404.
"""

import logging
import threading
from collections import deque
from functools import wraps

import orjson
from django.conf import settings
from django.contrib import admin
from django.http import Http404, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

logger = logging.getLogger("push.receiver")

RECEIVED_KEPT = 50
_received: deque[dict] = deque(maxlen=RECEIVED_KEPT)
_lock = threading.Lock()

app_name = "push-receiver"


def _only_when_on(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.PUSH_LOCAL_RECEIVER:
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


@csrf_exempt
@require_POST
def receive_view(request, topic: str):
    """Take one push as converted.in would: a token header and a JSON object."""
    token = request.headers.get("token", "")
    if not token:
        return JsonResponse({"message": "Unauthenticated."}, status=401)
    try:
        body = orjson.loads(request.body)
    except orjson.JSONDecodeError:
        return JsonResponse({"message": "The body is not JSON."}, status=400)
    entry = {
        "received_at": timezone.now().isoformat(),
        "topic": topic,
        "shop_domain": request.headers.get("X-Shop-Domain", ""),
        "token": f"…{token[-4:]}",
        "body": body,
    }
    with _lock:
        _received.appendleft(entry)
    logger.info("push received locally", extra={"fields": {"topic": topic}})
    return JsonResponse({"message": "Received."})


@require_GET
def received_view(request):
    """The pushes received since the web server started, newest first."""
    with _lock:
        entries = list(_received)
    return JsonResponse({"webhook_url": settings.CONVERTEDIN_WEBHOOK_URL, "received": entries})


def forget(texts) -> None:
    """Drop the pushes kept here whose body holds any of the texts (an erased customer's)."""
    wanted = [t.casefold() for t in texts if t]
    if not wanted:
        return
    with _lock:
        kept = [
            e
            for e in _received
            if not any(t in orjson.dumps(e).decode().casefold() for t in wanted)
        ]
        _received.clear()
        _received.extend(kept)


def received() -> list[dict]:
    with _lock:
        return list(_received)


urlpatterns = [
    path("", _only_when_on(admin.site.admin_view(received_view)), name="received"),
    path("<path:topic>", _only_when_on(receive_view), name="receive"),
]
