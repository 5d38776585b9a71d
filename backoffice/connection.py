"""The converted.in connection page in the admin: what to paste into converted.in, the feed
tokens, the feed's recent requests and crawls, and a preview of each endpoint.

Mounted under /admin/convertedin/ by backoffice/urls.py; every view is wrapped by the admin
site's `admin_view`, so it needs a staff login like the rest of the admin.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import orjson
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, F, Max, Min, Q, Sum
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from feeds.builders import ENDPOINTS, PAGED, build_payload, render_endpoint
from feeds.models import FeedRequest, FeedToken
from feeds.pagination import DEFAULT_PER_PAGE
from feeds.tokens import feed_token_check, feed_token_revoke
from push import tasks as push_tasks
from push.tokens import convertedin_token_add
from shop.models import Store

from . import push_pages
from .charts import Point, bar_line_chart
from .dashboard import EpochBucket

app_name = "feeds-connection"

RECENT = 50
CHART_HOURS = 48
# The crawl summary looks at this many of each endpoint's most recent first-page requests.
CRAWL_STARTS = 20
PREVIEW_PERMISSION = {
    "storeinfo": "shop.view_store",
    "categories": "shop.view_category",
    "products": "shop.view_product",
    "customers": "shop.view_customer",
    "orders": "shop.view_order",
}


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, initial="converted.in")
    token = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The token converted.in gave you. Only its last 4 characters stay readable.",
    )

    def clean_token(self) -> str:
        try:
            return feed_token_check(self.cleaned_data["token"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["token"]) from exc


@dataclass(frozen=True)
class Crawl:
    endpoint: str
    started_at: datetime
    finished_at: datetime
    requests: int
    pages: int
    rows: int
    errors: int
    complete: bool

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


def _feed_total(endpoint: str) -> int:
    return build_payload(endpoint, page=1, per_page=1)["total"]


def _crawl(endpoint: str, first_id: int, next_id: int | None) -> Crawl | None:
    window = FeedRequest.objects.filter(endpoint=endpoint, id__gte=first_id)
    if next_id is not None:
        window = window.filter(id__lt=next_id)
    ok = Q(status=200)
    found = window.aggregate(
        started_at=Min("created_at"),
        finished_at=Max("created_at"),
        requests=Count("id"),
        pages=Count("page", distinct=True, filter=ok),
        total_rows=Sum("rows", filter=ok),
        errors=Count("id", filter=Q(status__gte=400)),
        # A page shorter than its size is the last one: the crawl went through.
        last_pages=Count("id", filter=ok & Q(rows__lt=F("per_page"))),
    )
    if not found["requests"]:
        return None
    rows = found["total_rows"] or 0
    # When the total divides by the page size, the last page is full: then the crawl is
    # complete when it brought as many rows as the feed holds now.
    complete = (
        endpoint not in PAGED
        or found["last_pages"] > 0
        or (found["pages"] > 0 and 0 < _feed_total(endpoint) <= rows)
    )
    return Crawl(
        endpoint=endpoint,
        started_at=found["started_at"],
        finished_at=found["finished_at"],
        requests=found["requests"],
        pages=found["pages"],
        rows=rows,
        errors=found["errors"],
        complete=complete,
    )


def last_crawls() -> dict[str, dict]:
    """For each endpoint: the last complete crawl and, when newer, the one under way.

    A crawl starts with a successful request for page 1 and runs until the next one.
    """
    starts = list(
        FeedRequest.objects.filter(Q(page=1) | Q(endpoint="storeinfo"), status=200)
        .order_by("-id")
        .values_list("endpoint", "id")[: CRAWL_STARTS * len(ENDPOINTS)]
    )
    by_endpoint: dict[str, list[int]] = {}
    for endpoint, pk in starts:
        by_endpoint.setdefault(endpoint, []).append(pk)
    summary: dict[str, dict] = {}
    for endpoint in ENDPOINTS:
        ids = by_endpoint.get(endpoint, [])
        entry: dict = {"complete": None, "current": None}
        newer = None
        for pk in ids:  # Newest first.
            crawl = _crawl(endpoint, pk, newer)
            newer = pk
            if crawl is None:
                continue
            if crawl.complete:
                entry["complete"] = crawl
                break
            if entry["current"] is None:
                entry["current"] = crawl
        summary[endpoint] = entry
    return summary


def calls_per_hour(*, now: datetime, zone: ZoneInfo):
    """Feed calls and failed calls per hour over the last CHART_HOURS hours."""
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=CHART_HOURS)
    rows = (
        FeedRequest.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(hour=EpochBucket("created_at", seconds=3600))
        .values("hour")
        .annotate(calls=Count("id"), errors=Count("id", filter=Q(status__gte=400)))
        .order_by()
    )
    found = {r["hour"]: (r["calls"], r["errors"]) for r in rows}
    points = []
    for n in range(CHART_HOURS):
        hour = start + timedelta(hours=n)
        calls, errors = found.get(int(hour.timestamp()) // 3600, (0, 0))
        local = hour.astimezone(zone)
        points.append(
            Point(
                label=local.strftime("%H:00") if local.hour else local.strftime("%b %-d"),
                bar=calls,
                line=errors,
                title=f"{local:%b %-d %H:00}: {calls} calls, {errors} failed",
            )
        )
    return bar_line_chart(points, label_every=6, height=200)


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def push_destination() -> dict:
    """Where pushes go, for the page: the webhook URL's host (never its path or credentials,
    which may hold a secret) and whether it is the app's own local stand-in."""
    parts = urlsplit(settings.CONVERTEDIN_WEBHOOK_URL)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    if parts.port:
        shown += f":{parts.port}"
    local = (
        settings.PUSH_LOCAL_RECEIVER
        and host in LOOPBACK
        and parts.path.startswith(reverse("push-receiver:received"))
    )
    return {
        "host": shown,
        "local": local,
        "converted_in": host == urlsplit(settings.CONVERTEDIN_DEFAULT_WEBHOOK_URL).hostname,
        "default_url": settings.CONVERTEDIN_DEFAULT_WEBHOOK_URL,
    }


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def connection_view(request):
    """The page: steps, base URL, tokens, crawls, requests per hour, recent requests."""
    user = request.user
    if not (user.has_perm("feeds.view_feedtoken") or user.has_perm("feeds.view_feedrequest")):
        raise PermissionDenied
    store = Store.load()
    zone = ZoneInfo(store.time_zone)
    now = timezone.now()
    context = {
        **admin.site.each_context(request),
        "title": "converted.in connection",
        "base_url": _base_url(request),
        "endpoints": list(ENDPOINTS),
        "store": store,
        "keep_days": settings.FEED_REQUEST_LOG_KEEP_DAYS,
        "keep_rows": settings.FEED_REQUEST_LOG_KEEP_ROWS,
        "can_add_token": user.has_perm("feeds.add_feedtoken"),
        "can_revoke": user.has_perm("feeds.change_feedtoken"),
        "previewable": [e for e in ENDPOINTS if user.has_perm(PREVIEW_PERMISSION[e])],
    }
    if user.has_perm("feeds.view_feedtoken"):
        context["tokens"] = list(FeedToken.objects.order_by("-created_at", "-id"))
        context["token_form"] = TokenForm(prefix="token")
    if user.has_perm("feeds.view_feedrequest"):
        context["crawls"] = last_crawls()
        context["recent"] = list(
            FeedRequest.objects.select_related("token").order_by("-id")[:RECENT]
        )
        context["chart"] = calls_per_hour(now=now, zone=zone)
        context["calls_today"] = FeedRequest.objects.filter(
            created_at__gte=now - timedelta(hours=24)
        ).count()
    context.update(push_pages.push_context(user))
    if "push" in context:
        context["push_destination"] = push_destination()
        context["push_stall"] = push_tasks.stall_report(now)
    preview = request.GET.get("preview") or "storeinfo"
    if preview in context["previewable"]:
        context["preview"] = preview
        payload = orjson.loads(render_endpoint(preview))
        context["preview_json"] = orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()
        context["preview_per_page"] = DEFAULT_PER_PAGE
    return TemplateResponse(request, "admin/feeds/connection.html", context)


@require_POST
def token_add_view(request):
    if not request.user.has_perm("feeds.add_feedtoken"):
        raise PermissionDenied
    form = TokenForm(request.POST, prefix="token")
    if form.is_valid():
        try:
            token = convertedin_token_add(
                name=form.cleaned_data["name"], token=form.cleaned_data["token"]
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"Token “{token.name}” ending in …{token.hint} is active.")
    else:
        for field, errors in form.errors.items():
            prefix = "" if field == "__all__" else f"{field.capitalize()}: "
            for error in errors:
                messages.error(request, prefix + error)
    return HttpResponseRedirect(reverse("feeds-connection:page") + "#tokens")


@require_POST
def token_revoke_view(request, pk: int):
    if not request.user.has_perm("feeds.change_feedtoken"):
        raise PermissionDenied
    token = get_object_or_404(FeedToken, pk=pk)
    feed_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” ending in …{token.hint} is revoked.")
    return HttpResponseRedirect(reverse("feeds-connection:page") + "#tokens")


def preview_view(request, endpoint: str):
    """Page 1 of an endpoint, the exact bytes the crawler gets, without a token."""
    if endpoint not in ENDPOINTS:
        return HttpResponse(status=404)
    if not request.user.has_perm(PREVIEW_PERMISSION[endpoint]):
        raise PermissionDenied
    response = HttpResponse(render_endpoint(endpoint), content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def _admin(view):
    return admin.site.admin_view(view)


urlpatterns = [
    path("", _admin(connection_view), name="page"),
    path("tokens/add/", _admin(token_add_view), name="token-add"),
    path("tokens/<int:pk>/revoke/", _admin(token_revoke_view), name="token-revoke"),
    path("preview/<str:endpoint>/", _admin(preview_view), name="preview"),
    path("push/pause/", _admin(push_pages.pause_view), name="push-pause"),
    path("push/resume/", _admin(push_pages.resume_view), name="push-resume"),
    path("push/token/", _admin(push_pages.paste_token_view), name="push-token"),
    path("push/<int:pk>/retry/", _admin(push_pages.retry_view), name="push-retry"),
]
