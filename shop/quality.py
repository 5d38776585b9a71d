"""The data quality report: records converted.in would reject or that would sync badly.

Each check is a condition on one model's live rows. The report counts every check of a model
in one query; the admin's changelists filter by the same condition (`?quality=<key>`), so a
count and the list behind its link always agree. Rows that came in through imports or older
versions can break rules the models now enforce, so the checks do not trust the constraints.
"""

from dataclasses import dataclass
from decimal import Decimal

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


@dataclass(frozen=True)
class Check:
    key: str
    model: type[models.Model]
    title: str
    why: str
    severity: str
    condition: Q | models.Expression | Exists


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


# The codes the models accept, from the models' own validator and field.
_CURRENCIES = sorted(currency_codes())
_COUNTRIES = [code for code, _ in Order._meta.get_field("country_code").choices or ()]
_BLANK_EMAIL = Q(email="") | Q(email__isnull=True)

# Built once, at import: a condition must not capture a value of the moment (compare with the
# database's `Now()`, not `timezone.now()`). The querysets inside are cloned on every use.
CHECKS = (
    # Customers
    Check(
        key="missing_email",
        model=Customer,
        title="Customers without an email",
        why="converted.in requires every customer's email.",
        severity=REJECTED,
        condition=_BLANK_EMAIL,
    ),
    Check(
        key="bad_email",
        model=Customer,
        title="Customers whose email is not an address",
        why="converted.in matches customers by email.",
        severity=REJECTED,
        condition=~_BLANK_EMAIL & ~Q(email__regex=EMAIL_SHAPE),
    ),
    Check(
        key="missing_name",
        model=Customer,
        title="Customers without a first or last name",
        why="converted.in requires first_name and last_name.",
        severity=REJECTED,
        condition=Q(first_name="") | Q(last_name=""),
    ),
    Check(
        key="missing_phone",
        model=Customer,
        title="Customers without a phone",
        why="The phone is optional, but converted.in cannot reach or match them by phone.",
        severity=DEGRADED,
        condition=Q(phone=""),
    ),
    Check(
        key="bad_phone",
        model=Customer,
        title="Customers whose phone is not a phone number",
        why="converted.in cannot use a phone that is not digits (optionally with +).",
        severity=DEGRADED,
        condition=~Q(phone="") & ~Q(phone__regex=PHONE_SHAPE),
    ),
    Check(
        key="bad_currency",
        model=Customer,
        title="Customers whose currency is not an ISO 4217 code",
        why="converted.in requires an ISO currency code such as EGP or USD.",
        severity=REJECTED,
        condition=~Q(currency__in=_CURRENCIES),
    ),
    # Orders
    Check(
        key="missing_contact",
        model=Order,
        title="Orders without a contact email or phone",
        why="converted.in requires contact_email and phone on every order.",
        severity=REJECTED,
        condition=Q(contact_email="") | Q(phone=""),
    ),
    Check(
        key="bad_currency",
        model=Order,
        title="Orders whose currency is not an ISO 4217 code",
        why="converted.in requires an ISO currency code such as EGP or USD.",
        severity=REJECTED,
        condition=~Q(currency__in=_CURRENCIES),
    ),
    Check(
        key="bad_country",
        model=Order,
        title="Orders whose country is not an ISO 3166 code",
        why="converted.in requires a two-letter ISO country code such as EG.",
        severity=REJECTED,
        condition=~Q(country_code__in=_COUNTRIES),
    ),
    Check(
        key="no_line_items",
        model=Order,
        title="Orders without line items",
        why="converted.in requires line_items on every order.",
        severity=REJECTED,
        condition=~Exists(LineItem.objects.filter(order=OuterRef("pk"))),
    ),
    Check(
        key="totals_mismatch",
        model=Order,
        title="Orders whose totals disagree with their line items",
        why="The subtotal must equal the line items' sum, and the total the subtotal less "
        "discounts plus tax; otherwise revenue in converted.in will not match the store.",
        severity=DEGRADED,
        condition=_differ(F("subtotal_price"), _line_items_subtotal())
        | _differ(F("total_price"), _computed_total()),
    ),
    Check(
        key="deleted_customer",
        model=Order,
        title="Orders of deleted customers",
        why="The order points at a customer the feed no longer lists.",
        severity=DEGRADED,
        # IN over the few deleted rows: evaluated once, not joined per order.
        condition=Q(customer_id__in=Customer.objects.deleted().values("pk")),
    ),
    Check(
        key="deleted_product",
        model=Order,
        title="Orders with line items of deleted products",
        why="The line items point at products the feed no longer lists.",
        severity=DEGRADED,
        condition=Q(
            pk__in=LineItem.objects.filter(
                product_id__in=Product.objects.deleted().values("pk")
            ).values("order_id")
        ),
    ),
    # Products
    Check(
        key="missing_image",
        model=Product,
        title="Products without an image URL",
        why="converted.in requires a public image URL for every product.",
        severity=REJECTED,
        condition=Q(image_url=""),
    ),
    Check(
        key="missing_url",
        model=Product,
        title="Products without a page URL",
        why="converted.in requires full_permalink, the product page's public URL.",
        severity=REJECTED,
        condition=Q(url=""),
    ),
    Check(
        key="missing_vendor",
        model=Product,
        title="Products without a vendor",
        why="converted.in requires a vendor; the feed falls back to the store's name.",
        severity=DEGRADED,
        condition=Q(vendor=""),
    ),
    Check(
        key="missing_content",
        model=Product,
        title="Products without a description",
        why="converted.in requires content, the product's description.",
        severity=REJECTED,
        condition=Q(content=""),
    ),
    Check(
        key="unpublished",
        model=Product,
        title="Products not published",
        why="converted.in receives them as inactive (published_at null).",
        severity=DEGRADED,
        condition=Q(published_at__isnull=True),
    ),
    # Categories
    Check(
        key="deleted_parent",
        model=Category,
        title="Categories inside a deleted category",
        why="The feed nests categories under their parent; a deleted parent hides them.",
        severity=DEGRADED,
        condition=Q(parent_id__in=Category.objects.deleted().values("pk")),
    ),
)
_BY_KEY = {(c.model, c.key): c for c in CHECKS}


def checks_for(model: type[models.Model]) -> list[Check]:
    return [c for c in CHECKS if c.model is model]


def check(model: type[models.Model], key: str) -> Check | None:
    return _BY_KEY.get((model, key))


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
