"""The order list's date drill-down without a DISTINCT over the table.

Django's date_hierarchy lists the years (months, days) that have rows with a SELECT DISTINCT
over every row. This one reads the first and last date of the rows shown from the ends of an
index and offers every year (month, day) between them, as django-admin-lightweight-date-
hierarchy does: a year with no orders between two that have some is still listed.
"""

import datetime

from django import template
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.utils import formats
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from backoffice import admin_lists

register = template.Library()


def _month_title(year: int, month: int) -> str:
    return capfirst(formats.date_format(datetime.date(year, month, 1), "YEAR_MONTH_FORMAT"))


def indexed_date_hierarchy(cl):
    """Return the context of admin/date_hierarchy.html, from at most two indexed reads."""
    field = cl.date_hierarchy
    year_field, month_field, day_field = (f"{field}__{p}" for p in ("year", "month", "day"))
    year, month, day = (cl.params.get(name) for name in (year_field, month_field, day_field))

    def link(filters):
        return cl.get_query_string(filters, [f"{field}__"])

    if year and month and day:
        date = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({year_field: year, month_field: month}),
                "title": _month_title(date.year, date.month),
            },
            "choices": [{"title": capfirst(formats.date_format(date, "MONTH_DAY_FORMAT"))}],
        }
    first, last = (admin_lists.localtime(v) for v in admin_lists.first_and_last(cl.queryset, field))
    if first is None or last is None:
        return {"show": False}
    if not year and first.year == last.year:
        year = str(first.year)
        if first.month == last.month:
            month = str(first.month)
    if year and month:
        return {
            "show": True,
            "back": {"link": link({year_field: year}), "title": str(year)},
            "choices": [
                {
                    "link": link({year_field: year, month_field: month, day_field: d}),
                    "title": capfirst(
                        formats.date_format(
                            datetime.date(int(year), int(month), d), "MONTH_DAY_FORMAT"
                        )
                    ),
                }
                for d in range(first.day, last.day + 1)
            ],
        }
    if year:
        return {
            "show": True,
            "back": {"link": link({}), "title": _("All dates")},
            "choices": [
                {
                    "link": link({year_field: year, month_field: m}),
                    "title": _month_title(int(year), m),
                }
                for m in range(first.month, last.month + 1)
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({year_field: str(y)}), "title": str(y)}
            for y in range(first.year, last.year + 1)
        ],
    }


@register.tag(name="indexed_date_hierarchy")
def indexed_date_hierarchy_tag(parser, token):
    return InclusionAdminNode(
        parser,
        token,
        func=indexed_date_hierarchy,
        template_name="date_hierarchy.html",
        takes_context=False,
    )
