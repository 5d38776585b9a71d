"""A customer with live orders can no longer be deleted; restore those deleted before, so the
feed never lists an order whose customer it does not list."""

from django.db import migrations


def restore(apps, schema_editor):
    Customer = apps.get_model("shop", "Customer")
    Order = apps.get_model("shop", "Order")
    with_live_orders = Order.objects.filter(deleted_at__isnull=True).values("customer_id")
    Customer.objects.filter(deleted_at__isnull=False, id__in=with_live_orders).update(
        deleted_at=None
    )


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_integer_bounds")]

    operations = [migrations.RunPython(restore, migrations.RunPython.noop)]
