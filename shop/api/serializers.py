"""Input and output serializers of the REST API.

Output serializers render records. Input serializers only parse and validate what a client
may set; the views pass their `validated_data` to the services in `shop.services`.
"""

from collections.abc import Mapping

from rest_framework import serializers

from shop import services
from shop.models import MONEY, Category, Customer, LineItem, Order, Product

MAX_QUANTITY = 2_147_483_647


class StrictInputMixin:
    """Refuse fields a client may not set (400 naming each) instead of ignoring them."""

    read_only_names: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            extra = [name for name in data if name not in self.fields]
            if extra:
                raise serializers.ValidationError(
                    {
                        name: [
                            "This field is read-only."
                            if name in self.read_only_names
                            else "This field is not known."
                        ]
                        for name in extra
                    }
                )
        return super().to_internal_value(data)


def read_only_names(output: type[serializers.ModelSerializer], fields) -> frozenset[str]:
    return frozenset(output.Meta.fields) - frozenset(fields)


# Customers ------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
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
            "email",
            "first_name",
            "last_name",
            "phone",
            "gender",
            "currency",
            "registered_at",
            "accepts_marketing",
            "orders_count",
            "total_spent",
            "first_order_at",
            "last_order_at",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields


CUSTOMER_INPUT = list(services.CUSTOMER_FIELDS)


class CustomerInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    read_only_names = read_only_names(CustomerSerializer, CUSTOMER_INPUT)

    class Meta:
        model = Customer
        fields = CUSTOMER_INPUT
        extra_kwargs = {"currency": {"help_text": "ISO 4217 code; the store's by default."}}


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
    line_items = LineItemSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "customer",
            "ordered_at",
            "financial_status",
            "currency",
            "country_code",
            "subtotal_price",
            "total_tax",
            "taxes_included",
            "total_discounts",
            "total_price",
            "phone",
            "contact_email",
            "customer_locale",
            "line_items",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields


class LineItemInputSerializer(StrictInputMixin, serializers.Serializer):
    read_only_names = read_only_names(LineItemSerializer, ["product", "quantity", "price"])

    product = serializers.PrimaryKeyRelatedField(
        queryset=Product.objects.alive(), help_text="A live product's id."
    )
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)
    price = serializers.DecimalField(
        **MONEY, min_value=0, required=False, help_text="Unit price; the product's by default."
    )


ORDER_INPUT = [*services.ORDER_FIELDS, "line_items"]


class OrderInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    read_only_names = read_only_names(OrderSerializer, ORDER_INPUT)

    customer = serializers.PrimaryKeyRelatedField(
        queryset=Customer.objects.alive(), help_text="A live customer's id."
    )
    # many=True hands max_length to the ListSerializer, which the stubs do not follow.
    line_items = LineItemInputSerializer(  # type: ignore[call-arg]
        many=True,
        allow_empty=False,
        max_length=500,
        help_text="The order's line items; on update, they replace the old ones.",
    )

    class Meta:
        model = Order
        fields = ORDER_INPUT
        extra_kwargs = {
            "currency": {"required": False, "help_text": "The customer's currency by default."},
            "country_code": {"required": False, "help_text": "The store's country by default."},
            "phone": {"required": False, "help_text": "The customer's phone by default."},
            "contact_email": {"required": False, "help_text": "The customer's email by default."},
        }


# Products and categories ----------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer):
    # Blank when not set, so not always a URI.
    image_url = serializers.CharField(read_only=True, help_text="Image URL, or empty.")
    url = serializers.CharField(read_only=True, help_text="Product page URL, or empty.")

    class Meta:
        model = Product
        fields = [
            "id",
            "title",
            "handle",
            "sku",
            "category",
            "content",
            "vendor",
            "price",
            "compare_at_price",
            "quantity",
            "image_url",
            "url",
            "published_at",
            "tags",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields


PRODUCT_INPUT = list(services.PRODUCT_FIELDS)


class ProductInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    read_only_names = read_only_names(ProductSerializer, PRODUCT_INPUT)

    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.alive(),
        allow_null=True,
        required=False,
        help_text="A live category's id, or null.",
    )

    class Meta:
        model = Product
        fields = PRODUCT_INPUT


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = [
            "id",
            "title",
            "handle",
            "content",
            "parent",
            "available",
            "published_at",
            "created_at",
            "updated_at",
            "deleted_at",
        ]
        read_only_fields = fields


CATEGORY_INPUT = list(services.CATEGORY_FIELDS)


class CategoryInputSerializer(StrictInputMixin, serializers.ModelSerializer):
    read_only_names = read_only_names(CategorySerializer, CATEGORY_INPUT)

    # The model's field is named parent, as is a Field's link to its serializer in the stubs.
    parent = serializers.PrimaryKeyRelatedField(  # type: ignore[assignment]
        queryset=Category.objects.alive(),
        allow_null=True,
        required=False,
        help_text="A live category's id, or null for a top-level category.",
    )

    class Meta:
        model = Category
        fields = CATEGORY_INPUT
