"""The push section of the converted.in connection page: state, queue, delivery log, and the
staff's POSTs (pause, resume, retry now, paste the token again). Mounted by
backoffice/connection.py.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Min, Q
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from push.models import PushEvent, PushState
from push.selectors import delivery_log
from push.tokens import push_token, push_token_missing, push_token_paste

LOG_ROWS = 50
Status = PushEvent.Status


class PasteTokenForm(forms.Form):
    token = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="The newest active token again: pushes need it itself, kept encrypted.",
    )


def push_context(user) -> dict:
    """What the page shows of pushing; empty without the permission to see push events."""
    if not user.has_perm("push.view_pushevent"):
        return {}
    now = timezone.now()
    state = PushState.load()
    waiting = PushEvent.objects.filter(status__in=[Status.PENDING, Status.SENDING]).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    # Pushes, as the log lists them: changes carried by another push are counted in it.
    day = PushEvent.objects.filter(
        finished_at__gte=now - timedelta(hours=24), carried_by__isnull=True
    ).aggregate(
        delivered=Count("id", filter=Q(status=Status.DELIVERED)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
    )
    has_token = push_token(state) is not None
    return {
        "push": {
            "state": state,
            "on": has_token and not state.paused,
            "has_token": has_token,
            "token_missing": push_token_missing(),
            "waiting": waiting["count"],
            "oldest": waiting["oldest"],
            "delivered_24h": day["delivered"],
            "failed_24h": day["failed"],
            "log": delivery_log(rows=LOG_ROWS).rows,
            "log_url": reverse("push:log"),
            "can_change": user.has_perm("push.change_pushevent"),
            "paste_form": PasteTokenForm(prefix="push")
            if user.has_perm("feeds.add_feedtoken")
            else None,
        }
    }


def _back():
    return HttpResponseRedirect(reverse("feeds-connection:page") + "#push")


def _require(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


@require_POST
def pause_view(request):
    _require(request, "push.change_pushevent")
    PushState.load()
    PushState.objects.filter(pk=1).update(
        paused=PushState.Pause.MANUAL, paused_at=timezone.now(), paused_detail=str(request.user)
    )
    messages.success(request, "Pushing is paused; changes wait in the queue.")
    return _back()


@require_POST
def resume_view(request):
    _require(request, "push.change_pushevent")
    PushState.load()
    PushState.objects.filter(pk=1).update(paused="", paused_at=None, paused_detail="")
    messages.success(request, "Pushing is on.")
    return _back()


@require_POST
def retry_view(request, pk: int):
    _require(request, "push.change_pushevent")
    event = get_object_or_404(PushEvent, pk=pk, status=Status.FAILED)
    # The push's row stands for the changes it carried: they go again with it.
    PushEvent.objects.filter(Q(pk=event.pk) | Q(carried_by=event.pk), status=Status.FAILED).update(
        status=Status.PENDING, due_at=timezone.now(), attempts=0, finished_at=None
    )
    messages.success(request, f"{event.entity} #{event.record_id} will be pushed again now.")
    return _back()


@require_POST
def paste_token_view(request):
    _require(request, "feeds.add_feedtoken")
    form = PasteTokenForm(request.POST, prefix="push")
    if form.is_valid():
        try:
            row = push_token_paste(token=form.cleaned_data["token"])
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"Pushes carry the token ending in …{row.hint}.")
    return _back()


def log_view(request):
    """The delivery log, one row a push, paged by `?before=<id>`."""
    _require(request, "push.view_pushevent")
    before = request.GET.get("before")
    if before is not None and not before.isdigit():
        return HttpResponseBadRequest("“before” must be the id of a log row, a whole number.")
    page = delivery_log(before=int(before) if before else None, rows=LOG_ROWS)
    context = {
        **admin.site.each_context(request),
        "title": "Push delivery log",
        "rows": page.rows,
        "older": page.older,
        "first_page": before is None,
        "can_change": request.user.has_perm("push.change_pushevent"),
    }
    return TemplateResponse(request, "admin/push/log.html", context)
