"""Indexes the customer list's search reads at 200,000 customers: the start of a name (first,
last, or first and the start of last), in any case, and a phone number in any formatting.

Only CREATE INDEX: no table is remade, so the feed's triggers on shop_customer stay in place on
SQLite.

SQLite reads a name's start as a range of lower(name) (binary collation: exact for a prefix).
PostgreSQL reads it as LIKE 'start%', which a btree serves under any database collation only
with text_pattern_ops: there the two name indexes are built with it, under the same names.
"""

from django.db import migrations, models
from django.db.models.functions import Lower

import shop.models

NAME_INDEXES = {
    "customer_name_lower": "(lower(first_name) text_pattern_ops, lower(last_name) text_pattern_ops)",
    "customer_last_name_lower": "(lower(last_name) text_pattern_ops)",
}


def _index(name: str) -> models.Index:
    if name == "customer_name_lower":
        return models.Index(Lower("first_name"), Lower("last_name"), name=name)
    return models.Index(Lower("last_name"), name=name)


def create_name_indexes(apps, schema_editor):
    customer = apps.get_model("shop", "Customer")
    for name, columns in NAME_INDEXES.items():
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"CREATE INDEX {name} ON shop_customer {columns}")
        else:
            schema_editor.add_index(customer, _index(name))


def drop_name_indexes(apps, schema_editor):
    customer = apps.get_model("shop", "Customer")
    for name in NAME_INDEXES:
        schema_editor.remove_index(customer, _index(name))


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0009_quality_runs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(model_name="customer", index=_index(name))
                for name in NAME_INDEXES
            ],
            database_operations=[
                migrations.RunPython(create_name_indexes, drop_name_indexes),
            ],
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(shop.models.PhoneDigits("phone"), name="customer_phone_digits"),
        ),
    ]
