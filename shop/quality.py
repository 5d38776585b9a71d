"""The data quality report: records converted.in would reject or that would sync badly.

Each check is a condition on one model's live rows. The report counts every check of a model
in one query; the admin's changelists filter by the same condition (`?quality=<key>`), so a
count and the list behind its link always agree. Rows that came in through imports or older
versions can break rules the models now enforce, so the checks do not trust the constraints.

Counting takes seconds at a million orders, so the admin page shows the counts of the last run
(a QualityRun row, counted by the worker: shop/tasks.py) with the time they were taken.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Abs, Coalesce
from django.db.models.lookups import GreaterThan
from django.utils import timezone

from .models import MONEY, Category, Customer, LineItem, Order, Product, QualityRun
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


# The codes the models accept, from the models' own validator and field.
_CURRENCIES = sorted(currency_codes())
_COUNTRIES = [code for code, _ in Order._meta.get_field("country_code").choices or ()]
_BLANK_EMAIL = Q(email="") | Q(email__isnull=True)

# The conditions too long for a line of the table below.
_NO_NAME = Q(first_name="") | Q(last_name="")
_NO_CONTACT = Q(contact_email="") | Q(phone="")
_BAD_EMAIL = ~_BLANK_EMAIL & ~Q(email__regex=EMAIL_SHAPE)
_BAD_PHONE = ~Q(phone="") & ~Q(phone__regex=PHONE_SHAPE)
_BAD_CURRENCY = ~Q(currency__in=_CURRENCIES)
_BAD_COUNTRY = ~Q(country_code__in=_COUNTRIES)
_NO_LINE_ITEMS = ~Exists(LineItem.objects.filter(order=OuterRef("pk")))
_BAD_TOTALS = _differ(F("subtotal_price"), _line_items_subtotal()) | _differ(
    F("total_price"), _computed_total()
)
# IN over the few deleted rows: evaluated once, not joined per row.
_OF_DELETED_CUSTOMER = Q(customer_id__in=Customer.objects.deleted().values("pk"))
_DELETED_PRODUCTS = LineItem.objects.filter(product_id__in=Product.objects.deleted().values("pk"))
_WITH_DELETED_PRODUCT = Q(pk__in=_DELETED_PRODUCTS.values("order_id"))
_UNDER_DELETED_PARENT = Q(parent_id__in=Category.objects.deleted().values("pk"))

# Each model's checks, one a line: key (the changelists' `?quality=` value), what converted.in
# does with such a row, the rows' condition, and the title after the model's name.
# Built once, at import: a condition must not capture a value of the moment (compare with the
# database's `Now()`, not `timezone.now()`). The querysets inside are cloned on every use.
_TABLE: dict[type[models.Model], list[tuple[str, str, Q | models.Expression, str]]] = {
    Customer: [
        ("missing_email", REJECTED, _BLANK_EMAIL, "without an email"),
        ("bad_email", REJECTED, _BAD_EMAIL, "whose email is not an address"),
        ("missing_name", REJECTED, _NO_NAME, "without a first or last name"),
        ("missing_phone", DEGRADED, Q(phone=""), "without a phone"),
        ("bad_phone", DEGRADED, _BAD_PHONE, "whose phone is not a phone number"),
        ("bad_currency", REJECTED, _BAD_CURRENCY, "whose currency is not an ISO 4217 code"),
    ],
    Order: [
        ("missing_contact", REJECTED, _NO_CONTACT, "without a contact email or phone"),
        ("bad_currency", REJECTED, _BAD_CURRENCY, "whose currency is not an ISO 4217 code"),
        ("bad_country", REJECTED, _BAD_COUNTRY, "whose country is not an ISO 3166 code"),
        ("no_line_items", REJECTED, _NO_LINE_ITEMS, "without line items"),
        ("totals_mismatch", DEGRADED, _BAD_TOTALS, "whose totals disagree with their line items"),
        ("deleted_customer", DEGRADED, _OF_DELETED_CUSTOMER, "of deleted customers"),
        ("deleted_product", DEGRADED, _WITH_DELETED_PRODUCT, "with line items of deleted products"),
    ],
    Product: [
        ("missing_image", REJECTED, Q(image_url=""), "without an image URL"),
        ("missing_url", REJECTED, Q(url=""), "without a page URL"),
        ("missing_vendor", DEGRADED, Q(vendor=""), "without a vendor"),
        ("missing_content", REJECTED, Q(content=""), "without a description"),
        ("unpublished", DEGRADED, Q(published_at__isnull=True), "not published"),
    ],
    Category: [
        ("deleted_parent", DEGRADED, _UNDER_DELETED_PARENT, "inside a deleted category"),
    ],
}
# Why each check matters, by key (a key two models share means the same to both).
WHY = {
    "missing_email": "converted.in requires every customer's email.",
    "bad_email": "converted.in matches customers by email.",
    "missing_name": "converted.in requires first_name and last_name.",
    "missing_phone": "The phone is optional, but converted.in cannot reach or match them by phone.",
    "bad_phone": "converted.in cannot use a phone that is not digits (optionally with +).",
    "bad_currency": "converted.in requires an ISO currency code such as EGP or USD.",
    "missing_contact": "converted.in requires contact_email and phone on every order.",
    "bad_country": "converted.in requires a two-letter ISO country code such as EG.",
    "no_line_items": "converted.in requires line_items on every order.",
    "totals_mismatch": "The subtotal must equal the line items' sum, and the total the subtotal "
    "less discounts plus tax; otherwise revenue in converted.in will not match the store.",
    "deleted_customer": "The order points at a customer the feed no longer lists.",
    "deleted_product": "The line items point at products the feed no longer lists.",
    "missing_image": "converted.in requires a public image URL for every product.",
    "missing_url": "converted.in requires full_permalink, the product page's public URL.",
    "missing_vendor": "converted.in requires a vendor; the feed falls back to the store's name.",
    "missing_content": "converted.in requires content, the product's description.",
    "unpublished": "converted.in receives them as inactive (published_at null).",
    "deleted_parent": "The feed nests categories under their parent; a deleted parent hides them.",
}
CHECKS = tuple(
    Check(
        key=key,
        model=model,
        title=f"{str(model._meta.verbose_name_plural).capitalize()} {title}",
        why=WHY[key],
        severity=severity,
        condition=condition,
    )
    for model, rows in _TABLE.items()
    for key, severity, condition, title in rows
)
_BY_KEY = {(c.model, c.key): c for c in CHECKS}


def checks_for(model: type[models.Model]) -> list[Check]:
    return [c for c in CHECKS if c.model is model]


def check(model: type[models.Model], key: str) -> Check | None:
    return _BY_KEY.get((model, key))


@dataclass
class Finding:
    check: Check
    count: int | None  # None: a check added since the run that counted the others
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
        return sum(f.count or 0 for f in self.findings)


MODELS = [Customer, Order, Product, Category]
Counts = dict[str, dict[str, int]]


def _count(model: type[models.Model]) -> dict[str, int]:
    """The model's live rows and each check's count among them, in one query."""
    # Every model checked has a SoftDeleteQuerySet manager, which type[Model] does not show.
    return model.objects.alive().aggregate(  # type: ignore[attr-defined]
        live=Count("pk"),
        **{c.key: Count("pk", filter=c.condition) for c in checks_for(model)},
    )


def count_all() -> Counts:
    """Count every check on live rows, by model name then check key: one query per model.

    Seconds at a million orders: the worker runs it (shop/tasks.py), the page shows the result.
    """
    return {str(model._meta.model_name): _count(model) for model in MODELS}


def sections(counts: Counts, *, only: list[type[models.Model]] | None = None) -> list[Section]:
    """The report of counts by model name (as count_all gives them) for the models asked."""
    result = []
    for model in MODELS if only is None else only:
        counted = counts.get(str(model._meta.model_name), {})
        live = counted.get("live", 0)
        findings = [Finding(c, counted.get(c.key), live) for c in checks_for(model)]
        result.append(Section(model=model, live=live, findings=findings))
    return result


def report(*, only: list[type[models.Model]] | None = None) -> list[Section]:
    """Count every check on live rows now: one query per model."""
    chosen: list[type[models.Model]] = list(MODELS) if only is None else only
    return sections({str(m._meta.model_name): _count(m) for m in chosen}, only=chosen)


def run_lost_before() -> datetime:
    """A run asked for before this and not computed yet is taken as lost (a worker stopped)."""
    return timezone.now() - timedelta(seconds=settings.QUALITY_RUN_SECONDS)


def latest_runs() -> tuple[QualityRun | None, QualityRun | None]:
    """The latest computed run and the run waiting or running, if any: two queries."""
    computed = QualityRun.objects.computed().first()
    pending = QualityRun.objects.pending(since=run_lost_before()).first()
    return computed, pending


def quality_run_compute(*, run: QualityRun | None = None) -> QualityRun:
    """Count the data quality report now into `run` (a new one if None); drop older runs."""
    if run is None:
        run = QualityRun.objects.create(requested_at=timezone.now())
    try:
        counts = count_all()
    except Exception:
        QualityRun.objects.filter(pk=run.pk).delete()  # not left waiting: the page offers again
        raise
    run.counts = counts
    run.computed_at = timezone.now()
    with transaction.atomic():
        # Raises if a newer run dropped this one meanwhile, rather than bringing it back.
        run.save(update_fields=["counts", "computed_at"])
        QualityRun.objects.filter(requested_at__lt=run.requested_at).delete()
    return run
