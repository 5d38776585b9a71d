"""Dates a store cannot show in every time zone (before 1900, from 9000), stored before the
services checked them: an order's or a registration's date becomes its record's creation time,
a publication date is cleared (not published)."""

from datetime import UTC, datetime

from django.db import migrations
from django.db.models import F, Q

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _outside(field: str) -> Q:
    return Q(**{f"{field}__lt": EARLIEST}) | Q(**{f"{field}__gte": LATEST})


def bring_into_range(apps, schema_editor):
    apps.get_model("shop", "Order").objects.filter(_outside("ordered_at")).update(
        ordered_at=F("created_at")
    )
    apps.get_model("shop", "Customer").objects.filter(_outside("registered_at")).update(
        registered_at=F("created_at")
    )
    for model in ("Product", "Category"):
        apps.get_model("shop", model).objects.filter(_outside("published_at")).update(
            published_at=None
        )


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_restore_customers_of_live_orders")]

    operations = [migrations.RunPython(bring_into_range, migrations.RunPython.noop)]
