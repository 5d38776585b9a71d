"""Factories for every model; OrderFactory builds its line items and totals through the service."""

from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from shop import services
from shop.models import Category, Customer, LineItem, Order, Product, Store


class StoreFactory(DjangoModelFactory):
    class Meta:
        model = Store
        django_get_or_create = ["id"]

    id = 1
    name = "Test Store"
    currency = "EGP"
    time_zone = "Africa/Cairo"
    email = "store@example.com"
    country = "EG"


class CategoryFactory(DjangoModelFactory):
    class Meta:
        model = Category

    title = factory.Sequence(lambda n: f"Category {n}")
    handle = factory.Sequence(lambda n: f"category-{n}")
    available = True
    published_at = factory.LazyFunction(timezone.now)


class ProductFactory(DjangoModelFactory):
    class Meta:
        model = Product

    title = factory.Sequence(lambda n: f"Product {n}")
    handle = factory.Sequence(lambda n: f"product-{n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    category = factory.SubFactory(CategoryFactory)
    content = "<p>A fine product.</p>"
    vendor = "Acme"
    price = Decimal("50.00")
    quantity = 10
    image_url = factory.LazyAttribute(lambda p: f"https://shop.example.com/img/{p.handle}.jpg")
    url = factory.LazyAttribute(lambda p: f"https://shop.example.com/products/{p.handle}")
    published_at = factory.LazyFunction(timezone.now)
    tags = "new, sale"


class CustomerFactory(DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    phone = factory.Sequence(lambda n: f"+2010{n:08d}")
    gender = "unknown"
    currency = "EGP"
    registered_at = factory.LazyFunction(timezone.now)


class OrderFactory(factory.Factory):
    """Create an order through `services.order_create`, with `items` line items."""

    class Meta:
        model = Order

    customer = factory.SubFactory(CustomerFactory)
    financial_status = "successful"
    items = 2
    item_price = Decimal("50.00")
    item_quantity = 1

    @classmethod
    def _create(cls, model_class, *, items, item_price, item_quantity, line_items=None, **kwargs):
        if line_items is None:
            line_items = [
                services.LineItemInput(
                    product=ProductFactory(price=item_price), quantity=item_quantity
                )
                for _ in range(items)
            ]
        kwargs.setdefault("country_code", "EG")
        return services.order_create(line_items=line_items, **kwargs)

    @classmethod
    def _build(cls, model_class, *args, items, item_price, item_quantity, **kwargs):
        return model_class(*args, **kwargs)


class LineItemFactory(DjangoModelFactory):
    class Meta:
        model = LineItem

    order = factory.SubFactory(OrderFactory)
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    price = Decimal("50.00")
    title = factory.LazyAttribute(lambda li: li.product.title)
    sku = factory.LazyAttribute(lambda li: li.product.sku)
