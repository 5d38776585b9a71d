"""The dashboard on the admin index."""

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.formats import number_format

from backoffice.charts import Point, bar_line_chart
from backoffice.dashboard import dashboard
from shop.models import Order

register = template.Library()


def _chart(data):
    points = [
        Point(
            label=day.date.strftime("%b %-d"),
            bar=day.orders,
            line=day.revenue,
            title=(
                f"{day.date:%a %b %-d}: {number_format(day.orders, force_grouping=True)} orders, "
                f"{data.currency} {number_format(day.revenue, 2, force_grouping=True)}"
            ),
        )
        for day in data.days
    ]
    return bar_line_chart(points, label_every=15)


@register.inclusion_tag("admin/shop/dashboard.html", takes_context=True)
def shop_dashboard(context):
    """Render the store's figures for staff who may see orders; nothing for others."""
    request = context["request"]
    if not request.user.has_perm("shop.view_order"):
        return {"dashboard": None}
    data = dashboard(store=getattr(request, "store", None))
    orders = reverse("admin:shop_order_changelist")
    return {
        "dashboard": data,
        "chart": _chart(data),
        "pending_url": f"{orders}?financial_status__exact={Order.Status.PENDING}",
        "processing_url": f"{orders}?financial_status__exact={Order.Status.PROCESSING}",
        "quality_url": reverse("admin:shop_quality"),
        "connection_url": _connection_url(),
    }


def _connection_url() -> str | None:
    """The converted.in connection page, when the site mounts it."""
    try:
        return reverse("feeds-connection:page")
    except NoReverseMatch:
        return None
