"""Input and output serializers of the REST API.

Output serializers render records. Input serializers only parse what a client may set, with
the model's field types and validators; the views pass their `validated_data` to the services
in `shop.services`, which fill defaults and decide the rest.
"""

from collections.abc import Mapping

from django.core.validators import RegexValidator
from django.db import models
from rest_framework import serializers

from shop import services
from shop.models import MONEY, Category, Customer, LineItem, Order, Product

from .fields import (
    NON_BLANK_TEXT,
    TEXT,
    DateTimeField,
    MoneyField,
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
    StrictSlugField,
    StrictURLField,
    regex_pattern,
)
from .filters import MAX_ID

TIMESTAMPS = ("created_at", "updated_at", "deleted_at")


class LiveRecordField(serializers.PrimaryKeyRelatedField):
    """The id of a record that is not soft-deleted."""

    def run_validation(self, data=serializers.empty):
        # DRF reads a blank string as null; the schema does not.
        if data == "":
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().run_validation(data)

    def to_internal_value(self, data):
        # DRF parses with pk_field but skips its validators (the bounds).
        if self.pk_field is not None:
            self.pk_field.run_validation(data)
        fetched = self.context.get("fetched")
        if fetched is None:
            return super().to_internal_value(data)
        # A bulk request fetched the live records its records name, in one query a model.
        pk = self.pk_field.to_internal_value(data) if self.pk_field is not None else data
        record = fetched.get(self.queryset.model, {}).get(pk)
        if record is None:
            self.fail("does_not_exist", pk_value=pk)
        return record

    def get_queryset(self):
        return super().get_queryset().alive()


class InputSerializer(serializers.ModelSerializer):
    """Refuse fields a client may not set (400 naming each) instead of ignoring them."""

    # Meta.fields are the fields a client may set, parsed as the model defines them, with the
    # strict fields of .fields (exactly what the schema says); a field of Meta.output (the
    # output serializer) is refused as read-only, any other as unknown.
    serializer_related_field = LiveRecordField

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        if issubclass(field_class, serializers.ChoiceField):
            return field_class, kwargs
        for model_class, strict in (
            (models.EmailField, StrictEmailField),
            (models.URLField, StrictURLField),
            (models.SlugField, StrictSlugField),
            (models.BooleanField, StrictBooleanField),
            (models.DecimalField, MoneyField),
            (models.DateTimeField, DateTimeField),
            (models.IntegerField, StrictIntegerField),
        ):
            if isinstance(model_field, model_class):
                return strict, kwargs
        if isinstance(model_field, models.CharField | models.TextField):
            regexes = [v for v in kwargs.get("validators", []) if isinstance(v, RegexValidator)]
            if regexes:
                # A format of its own (a phone, a locale): checked as sent, not trimmed.
                (validator,) = regexes
                pattern = regex_pattern(validator)
                return StrictCharField, {**kwargs, "pattern": pattern, "trim_whitespace": False}
            pattern = TEXT if kwargs.get("allow_blank") else NON_BLANK_TEXT
            return StrictCharField, {**kwargs, "pattern": pattern}
        return field_class, kwargs

    def build_relational_field(self, field_name, relation_info):
        field_class, kwargs = super().build_relational_field(field_name, relation_info)
        kwargs["pk_field"] = StrictIntegerField(min_value=1, max_value=MAX_ID)
        return field_class, kwargs

    def to_internal_value(self, data):
        if isinstance(data, Mapping) and self.parent is not None and self.root.partial:
            # A nested record (a line item) is written whole, also in a PATCH of its parent:
            # DRF would skip its missing required fields.
            missing = [n for n, f in self.fields.items() if f.required and n not in data]
            if missing:
                raise serializers.ValidationError(
                    {
                        name: [serializers.Field.default_error_messages["required"]]
                        for name in missing
                    }
                )
        if isinstance(data, Mapping):
            extra = [name for name in data if name not in self.fields]
            if extra:
                shown = self.Meta.output.Meta.fields
                raise serializers.ValidationError(
                    {
                        name: [
                            "This field is read-only."
                            if name in shown
                            else "This field is not known."
                        ]
                        for name in extra
                    }
                )
        return super().to_internal_value(data)


# Customers ------------------------------------------------------------------------------


# Stored emails and handles are what Django's validators accept, more than the API's input
# schema (non-ASCII email domains, IP literals): the output schema says only that they are text.
STORED_EMAIL = "An email address."


class CustomerSerializer(serializers.ModelSerializer):
    email = serializers.CharField(read_only=True, help_text=STORED_EMAIL)
    orders_count = serializers.IntegerField(
        read_only=True, help_text="Live successful orders (in `currency` if given)."
    )
    total_spent = serializers.DecimalField(
        max_digits=None,
        decimal_places=2,
        read_only=True,
        help_text="Sum of those orders' totals.",
    )
    first_order_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_order_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            *services.CUSTOMER_FIELDS,
            "orders_count",
            "total_spent",
            "first_order_at",
            "last_order_at",
            *TIMESTAMPS,
        ]
        read_only_fields = fields


class CustomerInputSerializer(InputSerializer):
    class Meta:
        model = Customer
        fields = services.CUSTOMER_FIELDS
        output = CustomerSerializer
        extra_kwargs = {"currency": {"help_text": "ISO 4217 code; the store's by default."}}


class CustomerErasureSerializer(serializers.Serializer):
    """What POST /customers/{id}/erase answers."""

    id = serializers.IntegerField(read_only=True)
    erased_at = serializers.DateTimeField(read_only=True, help_text="When the customer was erased.")
    changed = serializers.BooleanField(
        read_only=True, help_text="False when everything had been erased already."
    )
    orders_erased = serializers.IntegerField(
        read_only=True, help_text="Orders erased by this call."
    )


class CustomerExportSerializer(serializers.Serializer):
    """What GET /customers/{id}/export answers (shop/erasure.py, customer_export)."""

    exported_at = serializers.DateTimeField(read_only=True)
    customer = serializers.DictField(
        read_only=True, help_text="The customer's fields, with created_at ... erased_at."
    )
    orders = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="Every order of theirs, deleted ones too, each with its line_items.",
    )
    history = serializers.ListField(
        child=serializers.DictField(),
        read_only=True,
        help_text="The history entries of the customer and their orders, newest first.",
    )


# Orders ---------------------------------------------------------------------------------


class LineItemSerializer(serializers.ModelSerializer):
    total = serializers.DecimalField(
        **MONEY, read_only=True, help_text="Unit price times quantity."
    )

    class Meta:
        model = LineItem
        fields = ["id", "product", "title", "sku", "quantity", "price", "total"]
        read_only_fields = fields


class OrderSerializer(serializers.ModelSerializer):
    contact_email = serializers.CharField(read_only=True, help_text=STORED_EMAIL)
    line_items = LineItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            *services.ORDER_FIELDS,
            *services.ORDER_TOTALS,
            "line_items",
            *TIMESTAMPS,
        ]
        read_only_fields = fields


class LineItemInputSerializer(InputSerializer):
    class Meta:
        model = LineItem
        fields = ["product", "quantity", "price"]
        output = LineItemSerializer
        extra_kwargs = {
            "product": {"help_text": "A live product's id."},
            "quantity": {"required": True},
            "price": {"help_text": "Unit price; the product's by default."},
        }


class OrderInputSerializer(InputSerializer):
    # many=True hands max_length to the ListSerializer, which the stubs do not follow.
    line_items = LineItemInputSerializer(  # type: ignore[call-arg]
        many=True,
        allow_empty=False,
        min_length=1,
        max_length=500,
        help_text="The order's line items (one at least); on update, they replace the old ones.",
    )

    class Meta:
        model = Order
        fields = [*services.ORDER_FIELDS, "line_items"]
        output = OrderSerializer
        extra_kwargs = {
            "customer": {"help_text": "A live customer's id."},
            "currency": {"required": False, "help_text": "The customer's currency by default."},
            "country_code": {"required": False, "help_text": "The store's country by default."},
            "phone": {"required": False, "help_text": "The customer's phone by default."},
            "contact_email": {"required": False, "help_text": "The customer's email by default."},
        }


# Products and categories ----------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer):
    handle = serializers.CharField(read_only=True, help_text="Letters, numbers, _ and -.")
    # Blank when not set, so not always a URI.
    image_url = serializers.CharField(read_only=True, help_text="Image URL, or empty.")
    url = serializers.CharField(read_only=True, help_text="Product page URL, or empty.")

    class Meta:
        model = Product
        fields = ["id", *services.PRODUCT_FIELDS, *TIMESTAMPS]
        read_only_fields = fields


class ProductInputSerializer(InputSerializer):
    class Meta:
        model = Product
        fields = services.PRODUCT_FIELDS
        output = ProductSerializer
        extra_kwargs = {"category": {"help_text": "A live category's id, or null."}}


class CategorySerializer(serializers.ModelSerializer):
    handle = serializers.CharField(read_only=True, help_text="Letters, numbers, _ and -.")

    class Meta:
        model = Category
        fields = ["id", *services.CATEGORY_FIELDS, *TIMESTAMPS]
        read_only_fields = fields


class CategoryInputSerializer(InputSerializer):
    class Meta:
        model = Category
        fields = services.CATEGORY_FIELDS
        output = CategorySerializer
        extra_kwargs = {
            "parent": {"help_text": "A live category's id, or null for a top-level category."}
        }
