"""The store admin: customers, orders with their line items, products, categories, settings,
the data quality report, and CSV/XLSX import and export."""

import copy
import os
from functools import cache

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from import_export.admin import ImportExportMixin
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ImportForm

from backoffice import admin_lists
from backoffice.admin_columns import CustomerColumns, OrderColumns
from backoffice.admin_erasure import CustomerErasureAdmin
from backoffice.admin_history import HistoryAdminMixin
from backoffice.admin_shared import OptionsFilter
from shop import exports, imports, quality, services, validators
from shop.models import ZERO, Category, Customer, ImportRun, LineItem, Order, Product, Store
from shop.resources import CategoryResource, CustomerResource, OrderResource, ProductResource
from shop.tasks import import_confirm, import_start, quality_run_request

admin.site.site_header = "Store admin"
admin.site.site_title = "Store admin"
admin.site.index_title = "Dashboard"


class DeletedFilter(admin.SimpleListFilter):
    """Hide soft-deleted rows unless the admin asks for them."""

    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request, model_admin):
        return [("yes", "Deleted only"), ("all", "All")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live only",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.deleted()
        if self.value() == "all":
            return queryset
        return queryset.alive()


class QualityFilter(admin.SimpleListFilter):
    """Rows failing one check of the data quality report (the report links here)."""

    title = "data issue"
    parameter_name = "quality"

    def lookups(self, request, model_admin):
        return [(c.key, c.title) for c in quality.checks_for(model_admin.model)]

    def queryset(self, request, queryset):
        check = quality.check(queryset.model, self.value()) if self.value() else None
        if check is None:
            return queryset
        return queryset.filter(check.condition)


@cache
def currency_labels() -> dict[str, str]:
    return dict(validators.currency_choices())


class ListDisplayMixin:
    """Choice labels of a list's rows from a dict built once: rendering a field with ~180
    choices (ISO 4217) or ~250 (countries) normalises every choice again for each row."""

    @admin.display(description="currency", ordering="currency")
    def currency_display(self, obj) -> str:
        return currency_labels().get(obj.currency, obj.currency)

    @admin.display(description="country", ordering="country_code")
    def country_display(self, obj) -> str:
        return obj.country_code.name or obj.country_code.code


class ValuesInUseFilter(admin.AllValuesFieldListFilter):
    """The values of a field in use, found by a loose scan of the field's index (no DISTINCT
    over the table). Deleted rows' values count as in use, as with AllValuesFieldListFilter."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = admin_lists.values_in_use(model, field_path)


class CountedListMixin:
    """A big list counted by its admin_lists paginator: the live rows from the feed's counters
    when nothing filters the list, at most COUNT_CAP rows otherwise."""

    show_full_result_count = False
    # The list's own parameters; any other one filters or searches the list.
    LIST_PARAMETERS = {"p", "o", "e", "_changelist_filters", "_popup", "_to_field"}

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        filtered = any(v for k, v in request.GET.items() if k not in self.LIST_PARAMETERS)
        return self.paginator(
            queryset,
            per_page,
            orphans=orphans,
            allow_empty_first_page=allow_empty_first_page,
            live_only=not filtered,
        )


class CustomerChangeList(ChangeList):
    """The customer list, with each row's orders_count and total_spent read for the page's rows
    only, in one query (annotated on the list's queryset, SQLite computes them for every row
    the search matched before sorting them)."""

    def get_results(self, request):
        super().get_results(request)
        figures = admin_lists.customer_figures([row.pk for row in self.result_list])
        for row in self.result_list:
            found = figures.get(row.pk, {})
            row.orders_count = found.get("orders_count", 0)
            row.total_spent = found.get("total_spent", ZERO)


class LimitedImportForm(ImportForm):
    """The import form, refusing a file over the import limits before it is parsed."""

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.formats = formats

    def clean(self):
        data = super().clean()
        upload, chosen = data.get("import_file"), data.get("format")
        if upload is not None and chosen not in (None, ""):
            try:
                imports.check_upload(upload, binary=self.formats[int(chosen)]().is_binary())
            except ValidationError as exc:
                self.add_error("import_file", exc)
        return data


class ImportExportAdmin(ImportExportMixin):
    """CSV and XLSX import, checked then written by the worker (ImportRunAdmin shows each
    import's preview, progress and result); exports stream.

    django-import-export's stubs type `model` and `change_list_template` unlike ModelAdmin's,
    so the admins that mix both in ignore that clash (`type: ignore[misc]`).
    """

    formats = [CSV, XLSX]
    import_form_class = LimitedImportForm
    import_help = ""

    def has_import_permission(self, request):
        """An import adds and changes records: it needs both permissions (the add one through
        IMPORT_EXPORT_IMPORT_PERMISSION_CODE)."""
        return super().has_import_permission(request) and self.has_change_permission(request)

    def import_action(self, request, **kwargs):
        """An accepted upload becomes an import run for the worker to check (its page shows
        the preview, then the progress); the page with the form otherwise."""
        if request.method == "POST":
            if not self.has_import_permission(request):
                raise PermissionDenied
            form = self.create_import_form(request)
            if form.is_valid():
                return self._start_import(request, form)
            # The page shows this form's errors: the file is not checked a second time.
            request.checked_import_form = form
        return super().import_action(request, **kwargs)

    def create_import_form(self, request):
        checked = getattr(request, "checked_import_form", None)
        return checked if checked is not None else super().create_import_form(request)

    def _start_import(self, request, form):
        upload = form.cleaned_data["import_file"]
        file_format = self.get_import_formats()[int(form.cleaned_data["format"])]()
        run = import_start(
            upload=upload,
            model=self.model._meta.label,
            file_name=os.path.basename(upload.name or ""),
            file_format="xlsx" if file_format.is_binary() else "csv",
            user=request.user,
        )
        messages.info(request, "The file is being checked: its preview shows here when ready.")
        return HttpResponseRedirect(reverse("admin:shop_importrun_change", args=[run.pk]))

    @method_decorator(require_POST)
    def process_import(self, request, **kwargs):
        """The old confirmation step: imports are confirmed on their run's page now."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        return self._upload_again(
            request, "Confirm an import on its page under Import runs, or upload the file again."
        )

    def _upload_again(self, request, *errors: str):
        """Answer 400: the errors above the import page's empty form, as a GET shows it."""
        for error in errors:
            messages.error(request, error)
        fresh = copy.copy(request)
        fresh.method, fresh.POST = "GET", QueryDict()
        response = self.import_action(fresh)
        response.status_code = 400
        return response

    def get_import_context_data(self, **kwargs):
        return {**super().get_import_context_data(**kwargs), "import_help": self.import_help}

    def _do_file_export(self, file_format, request, queryset, export_form=None):
        if not self.has_export_permission(request):
            raise PermissionDenied
        resource_class = self.choose_export_resource_class(export_form, request)
        resource = resource_class(**self.get_export_resource_kwargs(request))
        selected = self.get_export_resource_fields_from_form(export_form)
        headers = resource.get_export_headers(selected_fields=selected)
        rows = exports.export_rows(resource, queryset, selected)
        filename = self.get_export_filename(request, queryset, file_format)
        if isinstance(file_format, XLSX):
            return exports.xlsx_response(filename, headers, rows)
        return exports.csv_response(filename, headers, rows)


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put a service's errors on the form's fields; errors of fields the form lacks, and of
    fields that already failed to parse, become form-wide or are dropped."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        if name in form.fields:
            if name not in form.errors:
                form.add_error(name, errors)
        else:
            form.add_error(None, errors)


class ServiceForm(forms.ModelForm):
    """Parse input only: the entity's service fills defaults and validates (shop.services).

    A field the service defaults may be left empty.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in services.WRITES[self._meta.model].spec:
            if field.default is not None and field.name in self.fields:
                self.fields[field.name].required = False

    def service_data(self) -> dict:
        """What the admin typed: every field for a new record, the changed ones otherwise."""
        names = self.changed_data if self.instance.pk else list(self.fields)
        return {name: self.cleaned_data[name] for name in names if name in self.cleaned_data}

    def _post_clean(self):
        writes = services.WRITES[self._meta.model]
        try:
            writes.prepare(**{writes.kwarg: self.instance}, **self.service_data())
        except ValidationError as exc:
            add_service_errors(self, exc)


class ServiceAdmin(HistoryAdminMixin, admin.ModelAdmin):
    """Save through shop.services, soft-delete and restore instead of deleting."""

    form = ServiceForm
    actions = ["soft_delete_selected", "restore_selected"]

    @property
    def writes(self) -> services.Writes:
        return services.WRITES[self.model]

    def has_delete_permission(self, request, obj=None):
        return False

    def has_soft_delete_permission(self, request) -> bool:
        """Soft delete and restore take the model's delete permission (there is no hard
        delete)."""
        return request.user.has_perm(f"{self.opts.app_label}.delete_{self.opts.model_name}")

    def save_model(self, request, obj, form, change):
        if change:
            self.writes.update(**{self.writes.kwarg: obj}, **form.service_data())
        else:
            created = self.writes.create(**form.service_data())
            obj.pk = created.pk
            obj.__dict__.update(created.__dict__)

    def _apply(self, request, rows, write, done: str) -> None:
        """Run a soft delete or restore on each row; report the rows the service refused."""
        applied = 0
        for row in rows:
            try:
                write(**{self.writes.kwarg: row})
                applied += 1
            except ValidationError as exc:
                self.message_user(request, f"{row}: {' '.join(exc.messages)}", messages.ERROR)
        if applied:
            message = ngettext("%(n)d record %(done)s.", "%(n)d records %(done)s.", applied)
            self.message_user(request, message % {"n": applied, "done": done}, messages.SUCCESS)

    @admin.action(
        description="Delete selected (soft: hidden from the feed, restorable)",
        permissions=["soft_delete"],
    )
    def soft_delete_selected(self, request, queryset):
        self._apply(request, queryset.alive(), self.writes.soft_delete, "deleted")

    @admin.action(description="Restore selected", permissions=["soft_delete"])
    def restore_selected(self, request, queryset):
        self._apply(request, queryset.deleted(), self.writes.restore, "restored")

    @admin.display(boolean=True, description="deleted", ordering="deleted_at")
    def is_deleted(self, obj) -> bool:
        return obj.deleted_at is not None


@admin.register(Store)
class StoreAdmin(HistoryAdminMixin, admin.ModelAdmin):
    list_display = ["name", "currency", "time_zone", "country", "email"]
    fields = ["name", "description", "email", "currency", "time_zone", "country", "base_url"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        store = Store.load()
        return HttpResponseRedirect(reverse("admin:shop_store_change", args=[store.pk]))

    def get_urls(self):
        quality_view = self.admin_site.admin_view(self.quality_view)
        return [path("quality/", quality_view, name="shop_quality"), *super().get_urls()]

    def quality_view(self, request):
        """The data quality report as last counted by the worker, with links to the rows.

        A POST asks for a new count (the same permission as looking: it only reads).
        """
        visible = [
            m for m in quality.MODELS if request.user.has_perm(f"shop.view_{m._meta.model_name}")
        ]
        if not visible:
            raise PermissionDenied
        if request.method == "POST":
            if quality_run_request() is None:
                messages.info(request, "The report is being recomputed: refresh in a minute.")
            else:
                messages.success(request, "Recomputing: refresh in a minute.")
            return HttpResponseRedirect(reverse("admin:shop_quality"))
        computed, pending = quality.latest_runs()
        sections = quality.sections(computed.counts, only=visible) if computed else []
        for section in sections:
            url = reverse(f"admin:shop_{section.model._meta.model_name}_changelist")
            for finding in section.findings:
                finding.url = f"{url}?quality={finding.check.key}"
        context = {
            **self.admin_site.each_context(request),
            "title": "Data quality",
            "store": request.store,  # StoreTimeZoneMiddleware: times show in its zone
            "computed": computed,
            "pending": pending,
            "sections": sections,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/shop/quality.html", context)

    def save_model(self, request, obj, form, change):
        services.store_update(**{name: form.cleaned_data[name] for name in form.fields})


@admin.register(Customer)
class CustomerAdmin(  # type: ignore[misc]
    CustomerErasureAdmin,
    CountedListMixin,
    ListDisplayMixin,
    CustomerColumns,
    ImportExportAdmin,
    ServiceAdmin,
):
    resource_classes = [CustomerResource]
    actions = [*ServiceAdmin.actions, "erase_selected", "export_selected"]
    import_help = (
        "Customers are matched by <code>id</code>, else by <code>email</code>: a known one "
        "updates the customer; a new customer keeps a free id. Unchanged rows are skipped. "
        "Empty <code>currency</code>, <code>gender</code> or <code>registered_at</code> keep "
        "the customer's value (for a new customer: the store's currency, unknown, now). "
        "Dates are <code>YYYY-MM-DD HH:MM:SS</code> in the store's time zone."
    )

    list_display = [
        "id",
        "email",
        "name",
        "phone",
        "orders_count",
        "spent",
        "registered",
        "is_deleted",
    ]
    list_display_links = ["id", "email"]
    # Searched by admin_lists.customer_search: the start of a name or of an email, a phone
    # number in any formatting, each through an index.
    search_fields = ["email", "first_name", "last_name", "phone"]
    search_help_text = (
        "The start of a name (first, last, or first and last), of an email, or a phone number."
    )
    list_filter = [
        DeletedFilter,
        QualityFilter,
        "gender",
        # Only the currencies in use, not all of ISO 4217.
        ("currency", ValuesInUseFilter),
        "accepts_marketing",
        "registered_at",
    ]
    fields = [*services.CUSTOMER_FIELDS, "created_at", "updated_at", "deleted_at"]
    readonly_fields = ["created_at", "updated_at", "deleted_at"]
    paginator = admin_lists.CustomerListPaginator
    list_per_page = 50

    def get_changelist(self, request, **kwargs):
        return CustomerChangeList

    def get_search_results(self, request, queryset, search_term):
        return admin_lists.customer_search(queryset, search_term), False

    # Not sortable: sorting by a figure computes it for every customer.
    @admin.display(description="orders")
    def orders_count(self, obj) -> int:
        return obj.orders_count

    @admin.display(description="total spent")
    def total_spent(self, obj):
        return obj.total_spent


class LineItemForm(forms.ModelForm):
    class Meta:
        model = LineItem
        fields = ["product", "quantity", "price"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["price"].required = False
        self.fields["price"].help_text = "Empty: the product's price."
        self.fields["quantity"].widget.attrs["min"] = 1  # the rule is at least 1
        if not self.instance.pk:
            self.initial.pop("price", None)
            self.fields["price"].initial = None


class LineItemFormSet(forms.BaseInlineFormSet):
    """Parse the line items; the order service validates them with the order's totals."""

    def live_forms(self) -> list[forms.Form]:
        return [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]

    def service_items(self) -> list[services.LineItemInput]:
        return [
            services.LineItemInput(
                product=f.cleaned_data["product"],
                quantity=f.cleaned_data["quantity"],
                price=f.cleaned_data.get("price"),
            )
            for f in self.live_forms()
        ]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        try:
            services.order_prepare_items(order=self.instance, line_items=self.service_items())
        except ValidationError as exc:
            forms_by_key = {f"line_items[{i}]": f for i, f in enumerate(self.live_forms())}
            for key, errors in exc.message_dict.items():
                if key in forms_by_key:
                    forms_by_key[key].add_error(None, errors)
                else:
                    raise ValidationError(errors) from None


class LineItemInline(admin.TabularInline):
    model = LineItem
    form = LineItemForm
    formset = LineItemFormSet
    extra = 0
    min_num = 1
    autocomplete_fields = ["product"]
    readonly_fields = ["title", "sku"]
    fields = ["product", "quantity", "price", "title", "sku"]


class OrderForm(ServiceForm):
    class Meta:
        model = Order
        fields = list(services.ORDER_FIELDS)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ["currency", "phone", "contact_email", "country_code"]:
            self.fields[name].help_text = "Empty: taken from the customer or the store."


@admin.register(Order)
class OrderAdmin(  # type: ignore[misc]
    CountedListMixin, ListDisplayMixin, OrderColumns, ImportExportAdmin, ServiceAdmin
):
    resource_classes = [OrderResource]
    import_help = (
        "One row per order. A known <code>id</code> or <code>reference</code> (your order "
        "number) updates the order; otherwise an order is created, keeping a free id. "
        "<code>customer_email</code> names an existing customer. <code>line_items</code> lists "
        "products by handle: <code>tee-shirt x 2 @ 40.00; mug x 1</code> (no price: the "
        "product's). Empty subtotal and total are computed. Empty currency, phone and contact "
        "email come from the customer, an empty country from the store."
    )

    form = OrderForm
    inlines = [LineItemInline]
    list_display = [
        "id",
        "customer_name",
        "ordered",
        "financial_status",
        "total",
        "country_display",
        "contact_email",
        "is_deleted",
    ]
    list_select_related = ["customer"]
    list_filter = [
        DeletedFilter,
        QualityFilter,
        "financial_status",
        ("currency", ValuesInUseFilter),
        ("country_code", ValuesInUseFilter),
        "ordered_at",
    ]
    # Searched by admin_lists.order_search: an order number, a customer's email or its start,
    # a phone number in any formatting, each through an index.
    search_fields = ["=id"]
    search_help_text = "An order number, a customer's email or its start, or a phone number."
    date_hierarchy = "ordered_at"
    # The date drill-down reads the first and last date from an index (shop_admin tags).
    change_list_template = "admin/shop/order/change_list.html"  # type: ignore[misc]
    paginator = admin_lists.OrderListPaginator
    autocomplete_fields = ["customer"]
    readonly_fields = ["subtotal_price", "total_price", "created_at", "updated_at", "deleted_at"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "customer",
                    "reference",
                    "ordered_at",
                    "financial_status",
                    "customer_locale",
                ]
            },
        ),
        ("Contact", {"fields": ["contact_email", "phone", "country_code"]}),
        (
            "Money",
            {
                "fields": [
                    "currency",
                    "total_discounts",
                    "total_tax",
                    "taxes_included",
                    "subtotal_price",
                    "total_price",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at", "deleted_at"]}),
    ]
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        return admin_lists.order_search(queryset, search_term), False

    def get_ordering(self, request):
        """Newest first within a range of dates: the ordered_at index gives that order, where
        sorting a year's orders by number would read them all."""
        if "o" not in request.GET and any(k.startswith("ordered_at__") for k in request.GET):
            return ["-ordered_at"]
        return super().get_ordering(request)

    def save_model(self, request, obj, form, change):
        """Saved with its line items in save_related, by one service call."""

    def save_related(self, request, form, formsets, change):
        items_formset = next(fs for fs in formsets if isinstance(fs, LineItemFormSet))
        data = form.service_data()
        if change:
            line_items = items_formset.service_items() if items_formset.has_changed() else None
            order = services.order_update(order=form.instance, line_items=line_items, **data)
        else:
            order = services.order_create(line_items=items_formset.service_items(), **data)
        form.instance.pk = order.pk
        form.instance.__dict__.update(order.__dict__)
        # The admin's history message reads these.
        items_formset.new_objects = list(order.line_items.all()) if not change else []
        items_formset.changed_objects = []
        items_formset.deleted_objects = []


class PublishedFilter(OptionsFilter):
    title = "published"
    parameter_name = "published"
    options = {
        "yes": ("Published", lambda rows: rows.filter(published_at__isnull=False)),
        "no": ("Not published", lambda rows: rows.filter(published_at__isnull=True)),
    }


@admin.register(Product)
class ProductAdmin(ImportExportAdmin, ServiceAdmin):  # type: ignore[misc]
    resource_classes = [ProductResource]
    import_help = (
        "Products are matched by <code>id</code>, else by <code>handle</code> (made from the "
        "title when empty). "
        "<code>category</code> is a category's handle. An empty <code>published_at</code> "
        "means not published."
    )

    list_display = [
        "id",
        "title",
        "sku",
        "category",
        "price",
        "quantity",
        "vendor",
        "published_at",
        "is_deleted",
    ]
    list_display_links = ["id", "title"]
    list_select_related = ["category"]
    list_filter = [DeletedFilter, QualityFilter, PublishedFilter, "category", "vendor"]
    search_fields = ["title", "handle", "sku", "vendor"]
    prepopulated_fields = {"handle": ["title"]}
    autocomplete_fields = ["category"]
    fields = list(services.PRODUCT_FIELDS)
    list_per_page = 50

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        if request.GET.get("model_name") == "lineitem":
            queryset = queryset.alive()
        return queryset, may_have_duplicates


@admin.register(Category)
class CategoryAdmin(ImportExportAdmin, ServiceAdmin):  # type: ignore[misc]
    resource_classes = [CategoryResource]
    import_help = (
        "Categories are matched by <code>id</code>, else by <code>handle</code> (made from the "
        "title when empty). <code>parent</code> is a category's handle: one in the store, or "
        "one an earlier row of the file creates."
    )

    list_display = ["id", "title", "handle", "parent", "available", "published_at", "products"]
    list_display_links = ["id", "title"]
    list_select_related = ["parent"]
    list_filter = [DeletedFilter, QualityFilter, "available"]
    search_fields = ["title", "handle"]
    prepopulated_fields = {"handle": ["title"]}
    autocomplete_fields = ["parent"]
    fields = ["title", "handle", "parent", "available", "published_at", "content"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="products", ordering="product_count")
    def products(self, obj) -> int:
        return obj.product_count


# What the admin imports files of.
IMPORTABLE = (Category, Product, Customer, Order)


def may_import(user, label: str) -> bool:
    """Whether a user may import into a model (shop.Order): its add permission (as
    IMPORT_EXPORT_IMPORT_PERMISSION_CODE says) and its change permission."""
    app_label, name = label.lower().split(".")
    code = settings.IMPORT_EXPORT_IMPORT_PERMISSION_CODE
    return user.has_perm(f"{app_label}.{code}_{name}") and user.has_perm(
        f"{app_label}.change_{name}"
    )


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """The admin's imports: each one's preview, progress and result. A user sees their own
    (a superuser every one) and only of what they may import."""

    list_display = ["__str__", "what", "state", "rows", "created_by", "created_at"]
    list_filter = ["state"]
    list_select_related = ["created_by"]

    def get_queryset(self, request):
        runs = super().get_queryset(request)
        return runs if request.user.is_superuser else runs.filter(created_by=request.user)

    def _importable(self, request) -> bool:
        return any(may_import(request.user, model._meta.label) for model in IMPORTABLE)

    def has_module_permission(self, request):
        return self._importable(request)

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return self._importable(request)
        mine = request.user.is_superuser or obj.created_by_id == request.user.pk
        return mine and may_import(request.user, obj.model)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="file of")
    def what(self, obj) -> str:
        return apps.get_model(obj.model)._meta.verbose_name_plural

    @admin.display(description="rows")
    def rows(self, obj) -> str:
        progress = imports.run_progress(obj)
        total = "?" if progress["total"] is None else f"{progress['total']:,}"
        return f"{progress['done']:,} of {total}"

    def get_urls(self):
        return [
            path(
                "<int:run_id>/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="shop_importrun_confirm",
            ),
            path(
                "<int:run_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="shop_importrun_cancel",
            ),
            *super().get_urls(),
        ]

    def _run(self, request, run_id) -> ImportRun:
        run = self.get_queryset(request).filter(pk=run_id).first()
        if run is None or not self.has_view_permission(request, run):
            raise PermissionDenied
        return run

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The run's page: the preview once checked, the progress, then the result."""
        try:
            run = self._run(request, int(object_id))
        except ValueError:
            raise PermissionDenied from None
        model = apps.get_model(run.model)
        opts = model._meta
        context = {
            **self.admin_site.each_context(request),
            "title": str(run),
            "run": run,
            "progress": imports.run_progress(run),
            "active": run.state in (ImportRun.State.CHECKING, ImportRun.State.WRITING),
            "noun": model._meta.verbose_name_plural,
            "changelist": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
            "opts": self.model._meta,
            "store": request.store,
        }
        return TemplateResponse(request, "admin/shop/importrun/run.html", context)

    @method_decorator(require_POST)
    def confirm_view(self, request, run_id):
        """Start writing a checked import, once however often it is confirmed."""
        run = self._run(request, run_id)
        if not may_import(request.user, run.model):
            raise PermissionDenied
        confirmed = import_confirm(run=run)
        if confirmed:
            messages.success(request, "Importing: this page shows the progress.")
        else:
            messages.warning(request, "This import is not waiting for a confirmation.")
        return HttpResponseRedirect(reverse("admin:shop_importrun_change", args=[run.pk]))

    @method_decorator(require_POST)
    def cancel_view(self, request, run_id):
        """Drop a checked import that is not wanted (its file is removed)."""
        run = self._run(request, run_id)
        if imports.run_cancel(run):
            messages.success(request, "The import was cancelled: nothing was written.")
        else:
            messages.warning(request, "This import is not waiting for a confirmation.")
        return HttpResponseRedirect(reverse("admin:shop_importrun_change", args=[run.pk]))
