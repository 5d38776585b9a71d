from decimal import Decimal

from tests.factories import CustomerFactory, LineItemFactory, OrderFactory


def test_order_factory_builds_line_items_and_totals(db):
    order = OrderFactory(items=3, item_price=Decimal("10.50"), item_quantity=2)
    assert order.line_items.count() == 3
    assert order.subtotal_price == Decimal("63.00")
    assert order.total_price == Decimal("63.00")


def test_line_item_factory_copies_product_title(db):
    item = LineItemFactory()
    assert item.title == item.product.title


def test_customer_factory_makes_unique_emails(db):
    a, b = CustomerFactory(), CustomerFactory()
    assert a.email != b.email
