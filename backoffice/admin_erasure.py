"""The admin's doors to erasure and to a customer's data export (shop/erasure.py).

A mixin for the customer admin: "Erase personal data" shows a confirmation page naming what
will be erased, then erases (permission erase_customer); "Export data" answers one customer's
JSON document (the view permissions of customers and orders).
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import JsonResponse
from django.template.response import TemplateResponse

from shop.erasure import (
    CUSTOMER_ERASED_FIELDS,
    ORDER_ERASED_FIELDS,
    customer_erase,
    customer_erase_plan,
    customer_export,
)
from shop.models import Customer, Order

# At most this many customers per confirmation page.
ERASE_AT_ONCE = 100
ERASED_MESSAGE = "Erased the customer's personal data."


def _verbose(model, names) -> list[str]:
    return [str(model._meta.get_field(name).verbose_name) for name in names]


class CustomerErasureAdmin:
    """Erase and export actions for the customer admin (name them in its `actions`)."""

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("shop.erase_customer")

    def has_export_permission(self, request) -> bool:
        return request.user.has_perms(["shop.view_customer", "shop.view_order"])

    @admin.action(
        description="Erase personal data of selected customers (irreversible)",
        permissions=["erase"],
    )
    def erase_selected(self, request, queryset):
        model_admin: admin.ModelAdmin = self
        customers = list(queryset.order_by("id")[: ERASE_AT_ONCE + 1])
        if len(customers) > ERASE_AT_ONCE:
            model_admin.message_user(
                request,
                f"Choose at most {ERASE_AT_ONCE} customers to erase at once.",
                messages.ERROR,
            )
            return None
        if request.POST.get("post") != "yes":
            context = {
                **model_admin.admin_site.each_context(request),
                "title": "Erase personal data: are you sure?",
                "opts": model_admin.opts,
                "plans": [customer_erase_plan(customer=c) for c in customers],
                "customer_fields": _verbose(Customer, CUSTOMER_ERASED_FIELDS),
                "order_fields": _verbose(Order, ORDER_ERASED_FIELDS),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": model_admin.media,
            }
            return TemplateResponse(request, "admin/shop/customer/erase_confirmation.html", context)
        erased = 0
        for customer in customers:
            try:
                done = customer_erase(customer=customer, actor=request.user)
            except ValidationError as exc:
                model_admin.message_user(
                    request, f"#{customer.pk}: {' '.join(exc.messages)}", messages.ERROR
                )
                continue
            if done.changed:
                erased += 1
                model_admin.log_change(request, done.customer, ERASED_MESSAGE)
        model_admin.message_user(
            request,
            f"{erased} customer(s) erased; {len(customers) - erased} had nothing left to erase.",
            messages.SUCCESS,
        )
        return None

    @admin.action(description="Export data of the selected customer (JSON)", permissions=["export"])
    def export_selected(self, request, queryset):
        model_admin: admin.ModelAdmin = self
        customers = list(queryset.order_by("id")[:2])
        if len(customers) != 1:
            model_admin.message_user(
                request, "Choose exactly one customer to export.", messages.ERROR
            )
            return None
        (customer,) = customers
        response = JsonResponse(
            customer_export(customer=customer),
            encoder=DjangoJSONEncoder,
            json_dumps_params={"ensure_ascii": False, "indent": 2},
        )
        response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}.json"'
        response["Cache-Control"] = "no-store"
        return response
