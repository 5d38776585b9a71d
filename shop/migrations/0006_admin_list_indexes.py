"""Indexes the order list reads at a million orders: currencies and countries in use (a loose
index scan), an order by its phone digits, a customer by the start of the email on PostgreSQL.

Only CREATE INDEX: no table is remade, so the feed's triggers on shop_order and shop_customer
stay in place on SQLite.
"""

from django.db import migrations, models

import shop.models

# PostgreSQL only: LIKE 'prefix%' on lower(email) under any database collation. SQLite reads a
# prefix as a range of the unique index on lower(email) (binary collation) instead.
EMAIL_PREFIX_INDEX = "customer_email_prefix"


def create_email_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {EMAIL_PREFIX_INDEX} ON shop_customer (lower(email) text_pattern_ops)"
        )


def drop_email_prefix_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {EMAIL_PREFIX_INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0005_dates_in_range"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["currency"], name="customer_currency"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["currency"], name="order_currency"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["country_code"], name="order_country"),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(shop.models.PhoneDigits("phone"), name="order_phone_digits"),
        ),
        migrations.RunPython(create_email_prefix_index, drop_email_prefix_index),
    ]
