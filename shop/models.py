"""The store's domain: its settings, customers, orders with line items, products, categories."""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, DecimalField, F, Q, Sum, Value
from django.db.models.expressions import DatabaseDefault
from django.db.models.functions import Cast, Coalesce, Lower
from django.db.models.lookups import Regex
from django.utils import timezone
from django_countries.fields import CountryField

from .validators import (
    CachedChoices,
    currency_choices,
    validate_currency,
    validate_locale,
    validate_phone,
    validate_time_zone,
)

ZERO = Decimal("0.00")
# The orders the reference's unique index holds. A lookup by reference repeats it, so that
# the planners use that partial index (neither proves it from `reference IN (...)` alone).
REFERENCE_GIVEN = Q(reference__isnull=False) & ~Q(reference="")
MONEY: dict[str, Any] = {"max_digits": 14, "decimal_places": 2}
CURRENCY_SHAPE = Q(currency__regex=r"^[A-Z]{3}$")
# The largest integer PostgreSQL's integer column holds; SQLite is held to it too.
MAX_INT = 2_147_483_647


class CountryCodeField(CountryField):
    """A CountryField whose check of a code looks it up in the country table.

    The stock check walks the field's choices, which translates and sorts every country's
    name on each call (about 30 ms): a third of an order import's time. The migrations know
    it as a plain CountryField (the column and the accepted codes are the same).
    """

    def validate(self, value, model_instance):
        if self.multiple or not self.editable or value in self.empty_values:
            return super().validate(value, model_instance)
        if value not in self.countries:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return None

    def deconstruct(self):
        name, _, args, kwargs = super().deconstruct()
        return name, "django_countries.fields.CountryField", args, kwargs


def money_field(verbose_name: str, **kwargs) -> models.DecimalField:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(
        verbose_name, **MONEY, validators=[MinValueValidator(ZERO)], **kwargs
    )


def currency_field(**kwargs) -> models.CharField:
    return models.CharField(
        "currency",
        max_length=3,
        choices=CachedChoices(currency_choices),
        validators=[validate_currency],
        help_text="ISO 4217 code, e.g. EGP or USD.",
        **kwargs,
    )


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)


# Within a batch's checks (shop.cleaning.deferred), a field's check of a value that another
# record of the batch already passed is not run again: statuses, currencies, countries, a
# product's title, sku and price repeat over thousands of rows. Only for values whose check
# depends on the value alone: text, whole numbers, booleans and amounts (not times, whose
# checks read the store's time zone, nor relations, whose checks query).
_cleaned: ContextVar[dict[tuple, Any] | None] = ContextVar("cleaned_values", default=None)
_MISSING = object()


@contextmanager
def cleaned_once() -> Iterator[None]:
    token = _cleaned.set({})
    try:
        yield
    finally:
        _cleaned.reset(token)


def _clean_key(field: models.Field, value: Any) -> tuple | None:
    kind = type(value)
    if field.is_relation:
        return None
    if kind is str or kind is int or kind is bool:
        return (field, kind, value)
    if kind is Decimal:
        return (field, kind, value.as_tuple())  # 1.0 and 1.00 differ in decimal places
    return None


class CleanOnce(models.Model):
    """Model.clean_fields(), each value checked once a batch (see cleaned_once())."""

    class Meta:
        abstract = True

    def clean_fields(self, exclude=None):
        memo = _cleaned.get()
        if memo is None:
            return super().clean_fields(exclude=exclude)
        exclude = exclude or set()
        errors = {}
        for f in self._meta.fields:  # as Django's, with the memo
            if f.name in exclude or f.generated:
                continue
            raw_value = getattr(self, f.attname)
            if f.blank and raw_value in f.empty_values:
                continue
            if isinstance(raw_value, DatabaseDefault):
                continue
            key = _clean_key(f, raw_value)
            if key is not None:
                value = memo.get(key, _MISSING)
                if value is not _MISSING:
                    setattr(self, f.attname, value)
                    continue
            try:
                value = f.clean(raw_value, self)
            except ValidationError as e:
                errors[f.name] = e.error_list
                continue
            setattr(self, f.attname, value)
            if key is not None:
                memo[key] = value
        if errors:
            raise ValidationError(errors)
        return None


class LoadedValues(CleanOnce):
    """Keep the values a record was read with, so a write can record what it changed
    (shop/history.py) without reading the row again."""

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_values = (field_names, values)
        return instance


class SoftDeleteModel(LoadedValues):
    """A record of the store with its times, soft-deleted (deleted_at set) rather than
    deleted; ordered by id."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class Store(LoadedValues):
    """The store's own settings: a single row, edited in the admin."""

    name = models.CharField(max_length=200, default="My Store")
    currency = currency_field(default="EGP")
    time_zone = models.CharField(
        max_length=64,
        default="Africa/Cairo",
        validators=[validate_time_zone],
        help_text="IANA time zone name; the feed's dates are given in it.",
    )
    email = models.EmailField("contact email", default="store@example.com")
    description = models.CharField(max_length=500, blank=True, default="")
    country = CountryCodeField(default="EG")
    base_url = models.URLField(
        "storefront URL",
        default="https://store.example.com/",
        help_text="Public base URL of the storefront.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="store_single_row"),
            models.CheckConstraint(condition=CURRENCY_SHAPE, name="store_currency_iso"),
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def load(cls) -> "Store":
        """Return the store's row, creating it with defaults on first use (or the row
        `Store.kept()` holds)."""
        kept = _kept_store.get()
        if kept is not None:
            return kept
        store, _ = cls.objects.get_or_create(pk=1)
        return store

    @classmethod
    @contextmanager
    def kept(cls) -> Iterator["Store"]:
        """Read the store's row once for the block: a batch's defaults read it per record."""
        token = _kept_store.set(cls.load())
        try:
            yield _kept_store.get()  # type: ignore[misc]
        finally:
            _kept_store.reset(token)


_kept_store: ContextVar[Store | None] = ContextVar("kept_store", default=None)


def store_currency() -> str:
    """Return the store's currency, the default for new customers."""
    return Store.load().currency


class PhoneDigits(models.Func):
    """A phone number's digits: the formatting validate_phone allows, removed.

    The characters are in the template, not parameters, so that a query's expression is the
    text of the index's expression (SQLite only uses an expression index for identical text).
    """

    template = (
        "REPLACE(REPLACE(REPLACE(REPLACE(REPLACE(%(expressions)s, ' ', ''), '-', ''), "
        "'(', ''), ')', ''), '+', '')"
    )
    output_field = models.CharField()


# A customer's figures, as converted.in reads them and every door shows them:
# - orders_count: the customer's live successful orders, in any currency;
# - total_spent: the sum of those orders' totals that are in the customer's own currency
#   (amounts in other currencies cannot be added to it);
# - first_order_at / last_order_at: the first and last of those orders.
# With a currency (the API's ?currency=), every figure counts only orders in that currency.
# The feed reads the same figures in raw SQL (customer_figures_sql, below); a test asserts the
# two agree on a customer who pays in several currencies.


class CustomerQuerySet(SoftDeleteQuerySet):
    def with_order_stats(self, *, currency: str | None = None):
        """Annotate orders_count, total_spent, first_order_at and last_order_at.

        Works for one customer and for a page of them (correlated subqueries, no GROUP BY over
        the whole table).
        """
        orders = Order.objects.alive().successful().filter(customer=models.OuterRef("pk"))
        if currency:
            orders = orders.filter(currency=currency)
        spent = orders if currency else orders.filter(currency=models.OuterRef("currency"))
        count = orders.order_by().values("customer").annotate(n=Count("id")).values("n")
        total = spent.order_by().values("customer").annotate(s=Sum("total_price")).values("s")
        first = orders.order_by("ordered_at").values("ordered_at")[:1]
        last = orders.order_by("-ordered_at").values("ordered_at")[:1]
        return self.annotate(
            orders_count=Coalesce(models.Subquery(count), Value(0)),
            total_spent=Coalesce(
                models.Subquery(total, output_field=DecimalField(**MONEY)),
                Value(ZERO),
                output_field=DecimalField(**MONEY),
            ),
            first_order_at=models.Subquery(first),
            last_order_at=models.Subquery(last),
        )


def customer_figures_sql(customer: str) -> dict[str, str]:
    """Return SQL expressions for orders_count and total_spent of the customer row `customer`
    (a table alias with id and currency columns): the same rule as with_order_stats."""
    orders = Order._meta.db_table
    live_successful = (
        f"FROM {orders} o WHERE o.customer_id = {customer}.id "
        f"AND o.financial_status = '{Order.Status.SUCCESSFUL}' AND o.deleted_at IS NULL"
    )
    return {
        "orders_count": f"(SELECT COUNT(*) {live_successful})",
        "total_spent": (
            f"(SELECT SUM(o.total_price) {live_successful} AND o.currency = {customer}.currency)"
        ),
    }


class Customer(SoftDeleteModel):
    class Gender(models.TextChoices):
        MALE = "male", "Male"
        FEMALE = "female", "Female"
        UNKNOWN = "unknown", "Unknown"

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    phone = models.CharField(max_length=32, blank=True, default="", validators=[validate_phone])
    gender = models.CharField(max_length=7, choices=Gender.choices, default=Gender.UNKNOWN)
    currency = currency_field(default=store_currency)
    registered_at = models.DateTimeField(default=timezone.now)
    accepts_marketing = models.BooleanField(default=False)
    # Set once the customer's personal data is erased (shop/erasure.py); never cleared.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = CustomerQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        permissions = [("erase_customer", "Can erase a customer's personal data")]
        indexes = [
            # The dashboard counts live customers by registration date from this index alone.
            models.Index(fields=["deleted_at", "registered_at"], name="customer_alive_registered"),
            # The admin lists the currencies in use by a loose scan of this index.
            models.Index(fields=["currency"], name="customer_currency"),
            # The REST API's sync pages: WHERE (updated_at, id) > (x, y) ORDER BY updated_at, id.
            models.Index(fields=["updated_at", "id"], name="customer_updated_id"),
            # The REST API's created_from / created_to.
            models.Index(fields=["created_at"], name="customer_created_at"),
            # The admin finds a customer by the start of the first name, of the last name, or
            # by the first name and the start of the last (admin_lists.customer_search); on
            # PostgreSQL these two are text_pattern_ops indexes (migration 0010).
            models.Index(Lower("first_name"), Lower("last_name"), name="customer_name_lower"),
            models.Index(Lower("last_name"), name="customer_last_name_lower"),
            # ... and by phone in any formatting.
            models.Index(PhoneDigits("phone"), name="customer_phone_digits"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="customer_email_ci_unique",
                violation_error_message="A customer with this email already exists.",
            ),
            models.CheckConstraint(condition=~Q(email=""), name="customer_email_required"),
            models.CheckConstraint(
                condition=~Q(first_name="") & ~Q(last_name=""), name="customer_name_required"
            ),
            models.CheckConstraint(condition=CURRENCY_SHAPE, name="customer_currency_iso"),
            models.CheckConstraint(
                condition=Q(gender__in=["male", "female", "unknown"]), name="customer_gender"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name} <{self.email}>"


class CategoryQuerySet(SoftDeleteQuerySet):
    pass


class Category(SoftDeleteModel):
    title = models.CharField(max_length=200)
    handle = models.SlugField(max_length=200, unique=True, allow_unicode=True)
    content = models.TextField(blank=True, default="")
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subcategories",
    )
    available = models.BooleanField(default=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = CategoryQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        verbose_name_plural = "categories"
        indexes = [
            # The REST API's sync pages: WHERE (updated_at, id) > (x, y) ORDER BY updated_at, id.
            models.Index(fields=["updated_at", "id"], name="category_updated_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="category_title_required"),
            models.CheckConstraint(condition=~Q(parent=F("id")), name="category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        ancestor, seen = self.parent, set()
        while ancestor is not None:
            if self.pk is not None and ancestor.pk == self.pk:
                raise ValidationError({"parent": "A category cannot be inside itself."})
            if ancestor.pk in seen:
                break
            seen.add(ancestor.pk)
            ancestor = ancestor.parent


class ProductQuerySet(SoftDeleteQuerySet):
    def published(self):
        return self.filter(published_at__isnull=False, published_at__lte=timezone.now())


class Product(SoftDeleteModel):
    title = models.CharField(max_length=255)
    handle = models.SlugField(max_length=255, unique=True, allow_unicode=True)
    sku = models.CharField("SKU", max_length=64, blank=True, default="")
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="products"
    )
    content = models.TextField("description", blank=True, default="")
    vendor = models.CharField(max_length=200, blank=True, default="")
    price = money_field("price")
    compare_at_price = models.DecimalField(
        "compare-at price",
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(ZERO)],
    )
    quantity = models.PositiveIntegerField(
        "quantity in stock", default=0, validators=[MaxValueValidator(MAX_INT)]
    )
    image_url = models.URLField("image URL", max_length=500, blank=True, default="")
    url = models.URLField("product page URL", max_length=500, blank=True, default="")
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty means the product is not published."
    )
    tags = models.CharField(
        max_length=500, blank=True, default="", help_text="Comma-separated, e.g. games, sale."
    )

    objects = ProductQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        indexes = [
            # The REST API's sync pages: WHERE (updated_at, id) > (x, y) ORDER BY updated_at, id.
            models.Index(fields=["updated_at", "id"], name="product_updated_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="product_title_required"),
            models.CheckConstraint(condition=Q(price__gte=0), name="product_price_gte_0"),
            models.CheckConstraint(
                condition=Q(compare_at_price__isnull=True) | Q(compare_at_price__gte=0),
                name="product_compare_at_price_gte_0",
            ),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="product_quantity_gte_0"),
        ]

    def __str__(self) -> str:
        return self.title


class OrderQuerySet(SoftDeleteQuerySet):
    def successful(self):
        return self.filter(financial_status=Order.Status.SUCCESSFUL)


class Order(SoftDeleteModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        SUCCESSFUL = "successful", "Successful"
        CANCELED = "canceled", "Canceled"
        REFUNDED = "refunded", "Refunded"

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="orders")
    ordered_at = models.DateTimeField(default=timezone.now)
    financial_status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    currency = currency_field()
    country_code = CountryCodeField("country")
    subtotal_price = money_field("subtotal")
    total_tax = money_field("tax")
    taxes_included = models.BooleanField(default=False)
    total_discounts = money_field("discounts")
    total_price = money_field("total")
    phone = models.CharField(max_length=32, validators=[validate_phone])
    contact_email = models.EmailField(max_length=254)
    customer_locale = models.CharField(
        max_length=16, blank=True, default="", validators=[validate_locale]
    )
    reference = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        help_text="The merchant's own order number, e.g. #1001; unique when given.",
    )
    # Set once its customer's personal data is erased from it (shop/erasure.py).
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = OrderQuerySet.as_manager()

    class Meta(SoftDeleteModel.Meta):
        indexes = [
            # A customer's figures (customer_figures_sql, with_order_stats): their live
            # successful orders, and those in the customer's currency. With the currency in it,
            # SQLite picks this index even before ANALYZE has given it statistics.
            models.Index(
                fields=["customer", "financial_status", "currency"], name="order_customer_figures"
            ),
            models.Index(fields=["ordered_at"], name="order_ordered_at"),
            # The dashboard's figures and chart read live orders of a date range from this
            # index alone; deleted_at leads so planners without statistics still choose it.
            models.Index(
                fields=[
                    "deleted_at",
                    "ordered_at",
                    "financial_status",
                    "currency",
                    "total_price",
                    "id",
                ],
                name="order_alive_dashboard",
            ),
            models.Index(fields=["deleted_at", "financial_status"], name="order_alive_status"),
            # The admin's filters list the values in use by a loose scan of these indexes.
            models.Index(fields=["currency"], name="order_currency"),
            models.Index(fields=["country_code"], name="order_country"),
            # The admin finds an order by its phone in any formatting.
            models.Index(PhoneDigits("phone"), name="order_phone_digits"),
            # The REST API's sync pages: WHERE (updated_at, id) > (x, y) ORDER BY updated_at, id.
            models.Index(fields=["updated_at", "id"], name="order_updated_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=CURRENCY_SHAPE, name="order_currency_iso"),
            models.CheckConstraint(
                condition=Regex(Cast("country_code", models.CharField()), r"^[A-Z]{2}$"),
                name="order_country_iso",
            ),
            models.CheckConstraint(
                condition=Q(
                    financial_status__in=[
                        "pending",
                        "processing",
                        "successful",
                        "canceled",
                        "refunded",
                    ]
                ),
                name="order_financial_status",
            ),
            models.CheckConstraint(
                condition=Q(subtotal_price__gte=0)
                & Q(total_tax__gte=0)
                & Q(total_discounts__gte=0)
                & Q(total_price__gte=0),
                name="order_amounts_gte_0",
            ),
            models.CheckConstraint(condition=~Q(contact_email=""), name="order_email_required"),
            models.CheckConstraint(condition=~Q(phone=""), name="order_phone_required"),
            # Imports and the API find an order by it, so one reference names one order.
            models.UniqueConstraint(
                fields=["reference"],
                condition=REFERENCE_GIVEN,
                name="order_reference_unique",
                violation_error_message="An order with this reference already exists.",
            ),
        ]

    def __str__(self) -> str:
        return f"Order #{self.pk}"


class LineItem(CleanOnce):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="line_items")
    quantity = models.PositiveIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_INT)]
    )
    price = money_field("unit price")
    title = models.CharField(max_length=255, blank=True, default="")
    sku = models.CharField("SKU", max_length=64, blank=True, default="")

    class Meta:
        ordering = ["order_id", "id"]
        indexes = [
            # Covers the dashboard's top products: revenue per product of a range of orders.
            models.Index(
                fields=["order", "product", "quantity", "price"], name="lineitem_order_product"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="lineitem_quantity_gte_1"),
            models.CheckConstraint(condition=Q(price__gte=0), name="lineitem_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.title or self.product_id}"

    @property
    def total(self) -> Decimal:
        return (self.price or ZERO) * (self.quantity or 0)


class QualityRunQuerySet(models.QuerySet):
    def computed(self):
        return self.filter(computed_at__isnull=False)

    def pending(self, *, since):
        """Runs asked for after `since` and not computed yet (older ones count as lost)."""
        return self.filter(computed_at__isnull=True, requested_at__gte=since)


class QualityRun(models.Model):
    """One computation of the data quality report (shop/quality.py), run by the worker.

    `counts` holds, per model, its live rows and the count of each check:
    `{"customer": {"live": 500, "missing_phone": 3, ...}, ...}`. Titles and explanations stay
    in the code, so a stored run only ever holds numbers.
    """

    requested_at = models.DateTimeField(default=timezone.now)
    computed_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)

    objects = QualityRunQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"Data quality report requested {self.requested_at:%Y-%m-%d %H:%M}"


class ImportRun(models.Model):
    """One file imported through the admin, checked then written by the worker (shop/tasks.py).

    The file waits under IMPORT_DIR (never served) until the import ends. The worker checks it
    (the preview's counts), the admin confirms, the worker writes it IMPORT_BATCH_ROWS rows to a
    transaction; `rows_written` moves in each batch's transaction, so a worker killed mid-import
    resumes from the last batch written, and the rows in are always rows 1 to `rows_written`.
    """

    class State(models.TextChoices):
        CHECKING = "checking", "Checking"
        CHECKED = "checked", "Ready to import"
        REFUSED = "refused", "Rows refused"
        WRITING = "writing", "Importing"
        DONE = "done", "Imported"
        FAILED = "failed", "Stopped"

    model = models.CharField(max_length=64, help_text="What the file holds, e.g. shop.Order.")
    file_name = models.CharField(max_length=255, help_text="The upload's own name.")
    stored_name = models.CharField(
        max_length=64, blank=True, help_text="The file under IMPORT_DIR; empty once removed."
    )
    file_format = models.CharField(max_length=8)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.CHECKING)
    created_at = models.DateTimeField(default=timezone.now)
    # When the current step (checking, then writing) started, for the rate and time left.
    step_started_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total_rows = models.IntegerField(null=True, blank=True)
    rows_checked = models.IntegerField(default=0)
    rows_written = models.IntegerField(default=0)
    # The preview: rows by outcome; then what the write did.
    new = models.IntegerField(default=0)
    changed = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    refused = models.IntegerField(default=0)
    written_new = models.IntegerField(default=0)
    written_changed = models.IntegerField(default=0)
    written_unchanged = models.IntegerField(default=0)
    # The first refused rows: [{"row": 12, "errors": {"field": ["message", ...]}}, ...].
    refusals = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import of {self.file_name} ({self.created_at:%Y-%m-%d %H:%M})"


# The dashboard's figures, kept by shop/figures.py in every order write's transaction. They
# count live orders only; rows whose counts fall back to zero stay.


class OrderFigures(models.Model):
    """Live orders per quarter hour of UTC time and currency."""

    bucket = models.IntegerField(help_text="Quarter hours since 1970-01-01 00:00 UTC.")
    currency = models.CharField(max_length=3)
    orders = models.IntegerField(default=0)
    successful = models.IntegerField(default=0)
    revenue_cents = models.BigIntegerField(default=0, help_text="Successful orders' totals.")

    class Meta:
        ordering = ["bucket", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["bucket", "currency"], name="orderfigures_bucket_currency"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} at quarter hour {self.bucket}"


class ProductFigures(models.Model):
    """Units and revenue per UTC day, currency and product, of live successful orders."""

    currency = models.CharField(max_length=3)
    day = models.IntegerField(help_text="Days since 1970-01-01 UTC.")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    units = models.BigIntegerField(default=0)
    revenue_cents = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["currency", "day", "product"]
        constraints = [
            models.UniqueConstraint(
                fields=["currency", "day", "product"], name="productfigures_currency_day_product"
            ),
        ]

    def __str__(self) -> str:
        return f"Product #{self.product_id} in {self.currency} on day {self.day}"


class StatusFigures(models.Model):
    """Live orders per financial status."""

    status = models.CharField(max_length=10, unique=True)
    orders = models.IntegerField(default=0)

    class Meta:
        ordering = ["status"]

    def __str__(self) -> str:
        return self.status


class HistoryEntry(models.Model):
    """One write of one record: who, through which door, when, and what changed field by
    field (shop/history.py writes these in the write's own transaction)."""

    class Entity(models.TextChoices):
        CUSTOMER = "customer", "customer"
        ORDER = "order", "order"
        PRODUCT = "product", "product"
        CATEGORY = "category", "category"
        STORE = "store", "store"

    class Action(models.TextChoices):
        CREATE = "create", "created"
        UPDATE = "update", "changed"
        DELETE = "delete", "deleted"
        RESTORE = "restore", "restored"
        ERASE = "erase", "erased"

    class ActorKind(models.TextChoices):
        USER = "user", "staff user"
        API_KEY = "api_key", "API key"
        IMPORT = "import", "import"
        SYSTEM = "system", "system"

    class Door(models.TextChoices):
        ADMIN = "admin", "admin"
        API = "api", "REST API"
        BULK_API = "bulk_api", "bulk API"
        IMPORT = "import", "import"
        SERVICE = "service", "service call"
        RESTORE = "restore", "store restore"
        ERASURE = "erasure", "erasure"

    entity = models.CharField(max_length=16, choices=Entity.choices)
    record_id = models.BigIntegerField()
    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=8, choices=Action.choices)
    actor_kind = models.CharField(max_length=8, choices=ActorKind.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    # The actor's name when the entry was written (a user or key renamed later keeps it).
    actor_label = models.CharField(max_length=200, blank=True)
    door = models.CharField(max_length=10, choices=Door.choices)
    # {field: [old, new]}; an order's line items under "line_items" as two lists.
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "history entries"
        indexes = [
            # A record's entries, newest first, a page at a time.
            models.Index(fields=["entity", "record_id", "-id"], name="history_record_newest"),
            # Pruning by age.
            models.Index(fields=["at"], name="history_at"),
        ]

    def __str__(self) -> str:
        return f"{self.entity} #{self.record_id} {self.action} by {self.actor_label}"
