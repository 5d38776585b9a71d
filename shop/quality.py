"""The data quality report: records converted.in would reject or that would sync badly.

Each check is a condition on one model's live rows. The report counts every check of a model
in one query; the admin's changelists filter by the same condition (`?quality=<key>`), so a
count and the list behind its link always agree. Rows that came in through imports or older
versions can break rules the models now enforce, so the checks do not trust the constraints.
"""

from dataclasses import dataclass
from decimal import Decimal

import pycountry
from django.db import models
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Abs, Coalesce
from django.db.models.lookups import GreaterThan

from .models import MONEY, Category, Customer, LineItem, Order, Product
from .validators import currency_codes

REJECTED = "rejected"
DEGRADED = "degraded"
PHONE_SHAPE = r"^\+?[0-9][0-9 ()-]{4,22}[0-9]$"
EMAIL_SHAPE = r"^[^@ ]+@[^@ ]+\.[^@ ]+$"
HALF_CENT = Decimal("0.005")


def country_codes() -> list[str]:
    return sorted(c.alpha_2 for c in pycountry.countries)


@dataclass(frozen=True)
class Check:
    key: str
    model: type[models.Model]
    title: str
    why: str
    severity: str
    condition: Q | models.Expression


def _line_items_subtotal() -> Coalesce:
    total = (
        LineItem.objects.filter(order=OuterRef("pk"))
        .order_by()
        .values("order")
        .annotate(s=Sum(F("price") * F("quantity"), output_field=DecimalField(**MONEY)))
        .values("s")
    )
    return Coalesce(
        Subquery(total, output_field=DecimalField(**MONEY)),
        Value(Decimal("0.00")),
        output_field=DecimalField(**MONEY),
    )


def _computed_total():
    """subtotal - discounts + tax (when prices exclude it), as services.order_totals does."""
    return models.Case(
        models.When(
            taxes_included=True,
            then=F("subtotal_price") - F("total_discounts"),
        ),
        default=F("subtotal_price") - F("total_discounts") + F("total_tax"),
        output_field=DecimalField(**MONEY),
    )


def _differ(a, b) -> Q:
    """a and b differ by at least a cent (SQLite sums decimals as floats)."""
    return Q(GreaterThan(Abs(a - b, output_field=DecimalField(**MONEY)), Value(HALF_CENT)))


def checks() -> list[Check]:
    currencies = sorted(currency_codes())
    countries = country_codes()
    blank_email = Q(email="") | Q(email__isnull=True)
    return [
        # Customers
        Check(
            "missing_email",
            Customer,
            "Customers without an email",
            "converted.in requires every customer's email.",
            REJECTED,
            blank_email,
        ),
        Check(
            "bad_email",
            Customer,
            "Customers whose email is not an address",
            "converted.in matches customers by email.",
            REJECTED,
            ~blank_email & ~Q(email__regex=EMAIL_SHAPE),
        ),
        Check(
            "missing_name",
            Customer,
            "Customers without a first or last name",
            "converted.in requires first_name and last_name.",
            REJECTED,
            Q(first_name="") | Q(last_name=""),
        ),
        Check(
            "missing_phone",
            Customer,
            "Customers without a phone",
            "The phone is optional, but converted.in cannot reach or match them by phone.",
            DEGRADED,
            Q(phone=""),
        ),
        Check(
            "bad_phone",
            Customer,
            "Customers whose phone is not a phone number",
            "converted.in cannot use a phone that is not digits (optionally with +).",
            DEGRADED,
            ~Q(phone="") & ~Q(phone__regex=PHONE_SHAPE),
        ),
        Check(
            "bad_currency",
            Customer,
            "Customers whose currency is not an ISO 4217 code",
            "converted.in requires an ISO currency code such as EGP or USD.",
            REJECTED,
            ~Q(currency__in=currencies),
        ),
        # Orders
        Check(
            "missing_contact",
            Order,
            "Orders without a contact email or phone",
            "converted.in requires contact_email and phone on every order.",
            REJECTED,
            Q(contact_email="") | Q(phone=""),
        ),
        Check(
            "bad_currency",
            Order,
            "Orders whose currency is not an ISO 4217 code",
            "converted.in requires an ISO currency code such as EGP or USD.",
            REJECTED,
            ~Q(currency__in=currencies),
        ),
        Check(
            "bad_country",
            Order,
            "Orders whose country is not an ISO 3166 code",
            "converted.in requires a two-letter ISO country code such as EG.",
            REJECTED,
            ~Q(country_code__in=countries),
        ),
        Check(
            "no_line_items",
            Order,
            "Orders without line items",
            "converted.in requires line_items on every order.",
            REJECTED,
            ~Exists(LineItem.objects.filter(order=OuterRef("pk"))),
        ),
        Check(
            "totals_mismatch",
            Order,
            "Orders whose totals disagree with their line items",
            "The subtotal must equal the line items' sum, and the total the subtotal less "
            "discounts plus tax; otherwise revenue in converted.in will not match the store.",
            DEGRADED,
            _differ(F("subtotal_price"), _line_items_subtotal())
            | _differ(F("total_price"), _computed_total()),
        ),
        Check(
            "deleted_customer",
            Order,
            "Orders of deleted customers",
            "The order points at a customer the feed no longer lists.",
            DEGRADED,
            # IN over the few deleted rows: evaluated once, not joined per order.
            Q(customer_id__in=Customer.objects.deleted().values("pk")),
        ),
        Check(
            "deleted_product",
            Order,
            "Orders with line items of deleted products",
            "The line items point at products the feed no longer lists.",
            DEGRADED,
            Q(
                pk__in=LineItem.objects.filter(
                    product_id__in=Product.objects.deleted().values("pk")
                ).values("order_id")
            ),
        ),
        # Products
        Check(
            "missing_image",
            Product,
            "Products without an image URL",
            "converted.in requires a public image URL for every product.",
            REJECTED,
            Q(image_url=""),
        ),
        Check(
            "missing_url",
            Product,
            "Products without a page URL",
            "converted.in requires full_permalink, the product page's public URL.",
            REJECTED,
            Q(url=""),
        ),
        Check(
            "missing_vendor",
            Product,
            "Products without a vendor",
            "converted.in requires a vendor; the feed falls back to the store's name.",
            DEGRADED,
            Q(vendor=""),
        ),
        Check(
            "missing_content",
            Product,
            "Products without a description",
            "converted.in requires content, the product's description.",
            REJECTED,
            Q(content=""),
        ),
        Check(
            "unpublished",
            Product,
            "Products not published",
            "converted.in receives them as inactive (published_at null).",
            DEGRADED,
            Q(published_at__isnull=True),
        ),
        # Categories
        Check(
            "deleted_parent",
            Category,
            "Categories inside a deleted category",
            "The feed nests categories under their parent; a deleted parent hides them.",
            DEGRADED,
            Q(parent_id__in=Category.objects.deleted().values("pk")),
        ),
    ]


def checks_for(model: type[models.Model]) -> list[Check]:
    return [c for c in checks() if c.model is model]


def check(model: type[models.Model], key: str) -> Check | None:
    return next((c for c in checks_for(model) if c.key == key), None)


@dataclass
class Finding:
    check: Check
    count: int
    live: int
    url: str = ""


@dataclass(frozen=True)
class Section:
    model: type[models.Model]
    live: int
    findings: list[Finding]

    @property
    def title(self) -> str:
        return str(self.model._meta.verbose_name_plural).capitalize()

    @property
    def key(self) -> str:
        return str(self.model._meta.model_name)

    @property
    def problems(self) -> int:
        return sum(f.count for f in self.findings)


MODELS = [Customer, Order, Product, Category]


def report(*, only: list[type[models.Model]] | None = None) -> list[Section]:
    """Count every check on live rows: one query per model."""
    sections = []
    for model in MODELS if only is None else only:
        model_checks = checks_for(model)
        # Every model checked has a SoftDeleteQuerySet manager, which type[Model] does not show.
        counts = model.objects.alive().aggregate(  # type: ignore[attr-defined]
            live=Count("pk"),
            **{c.key: Count("pk", filter=c.condition) for c in model_checks},
        )
        sections.append(
            Section(
                model=model,
                live=counts["live"],
                findings=[Finding(c, counts[c.key], counts["live"]) for c in model_checks],
            )
        )
    return sections
