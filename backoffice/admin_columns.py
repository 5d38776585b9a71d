"""Columns of the order and customer lists sized for a laptop's screen: one name instead of a
name and an email, an amount with its currency, a short date (shop/admin/lists.css hides the
less needed columns on narrower screens)."""

from django.contrib import admin
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import localtime


def _amount(value, currency: str) -> str:
    return f"{value:,.2f} {currency}"


class OrderColumns:
    @admin.display(description="customer", ordering="customer")
    def customer_name(self, obj) -> str:
        customer = obj.customer
        name = f"{customer.first_name} {customer.last_name}".strip() or customer.email
        return format_html('<span title="{}">{}</span>', customer.email, name)

    @admin.display(description="ordered", ordering="ordered_at")
    def ordered(self, obj) -> str:
        return date_format(localtime(obj.ordered_at), "Y-m-d H:i")

    @admin.display(description="total", ordering="total_price")
    def total(self, obj) -> str:
        return _amount(obj.total_price, obj.currency)


class CustomerColumns:
    @admin.display(description="name", ordering="first_name")
    def name(self, obj) -> str:
        return f"{obj.first_name} {obj.last_name}".strip()

    # Not sortable: sorting by a figure computes it for every customer.
    @admin.display(description="total spent")
    def spent(self, obj) -> str:
        return _amount(obj.total_spent, obj.currency)

    @admin.display(description="registered", ordering="registered_at")
    def registered(self, obj) -> str:
        return date_format(localtime(obj.registered_at), "Y-m-d")
