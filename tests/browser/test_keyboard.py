"""A store admin without a mouse: logs in and adds an order with two line items using only the
keyboard (Tab, typing, arrow keys, Enter), the customer and products chosen in the admin's
autocomplete boxes."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from playwright.sync_api import expect

from shop.models import Order
from tests.browser.conftest import PASSWORD
from tests.factories import CustomerFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FOCUSED = "(selector) => document.activeElement && document.activeElement.matches(selector)"


def tab_to(page, selector: str, *, backwards: bool = False, limit: int = 150) -> None:
    """Press Tab (Shift+Tab backwards) until the element matching `selector` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(limit):
        if page.evaluate(FOCUSED, selector):
            return
        page.keyboard.press(key)
    raise AssertionError(f"{selector} not reached with {key} in {limit} presses")


def choose(page, box: str, search: str, option: str) -> None:
    """Open a select2 box that has the focus, type, and take the highlighted result."""
    page.keyboard.press("Enter")
    field = page.locator(".select2-container--open .select2-search__field")
    expect(field).to_be_focused()
    page.keyboard.type(search)
    highlighted = page.locator(".select2-results__option--highlighted")
    expect(highlighted).to_contain_text(option)
    page.keyboard.press("Enter")
    expect(page.locator(f"#{box}")).to_contain_text(option)


@pytest.fixture
def store_admin(transactional_db, store):
    """Staff with the store's permissions, not a superuser."""
    user = User.objects.create_user("manager", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="shop"))
    return user


def test_store_admin_adds_an_order_with_two_line_items_by_keyboard_only(
    page, live_server, store_admin
):
    CustomerFactory(email="nour@example.com", first_name="Nour", last_name="Hassan")
    ProductFactory(title="Linen shirt", handle="linen-shirt", price=Decimal("40.00"))
    ProductFactory(title="Clay mug", handle="clay-mug", price=Decimal("12.50"))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/shop/order/add/")
    expect(page.locator("#id_username")).to_be_focused()
    page.keyboard.type(store_admin.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/admin/shop/order/add/")

    tab_to(page, ".select2-selection[aria-labelledby~='select2-id_customer-container']")
    choose(page, "select2-id_customer-container", "nour", "nour@example.com")

    tab_to(page, "#id_financial_status")
    page.keyboard.press("ArrowDown")
    status = page.locator("#id_financial_status")
    while status.input_value() != "successful":
        page.keyboard.press("ArrowDown")

    tab_to(page, ".select2-selection[aria-labelledby~='select2-id_line_items-0-product-container']")
    choose(page, "select2-id_line_items-0-product-container", "linen", "Linen shirt")
    tab_to(page, "#id_line_items-0-quantity")
    page.keyboard.press("Control+A")
    page.keyboard.type("2")

    tab_to(page, ".add-row a")
    page.keyboard.press("Enter")
    expect(page.locator("#line_items-1")).to_be_visible()
    tab_to(
        page,
        ".select2-selection[aria-labelledby~='select2-id_line_items-1-product-container']",
        backwards=True,
    )
    choose(page, "select2-id_line_items-1-product-container", "clay", "Clay mug")
    tab_to(page, "#id_line_items-1-quantity")
    page.keyboard.press("Control+A")
    page.keyboard.type("1")

    tab_to(page, "input[name=_save]")
    page.keyboard.press("Enter")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    order = Order.objects.get()
    assert order.customer.email == "nour@example.com"
    assert order.financial_status == "successful"
    assert sorted((li.title, li.quantity) for li in order.line_items.all()) == [
        ("Clay mug", 1),
        ("Linen shirt", 2),
    ]
    assert order.total_price == Decimal("92.50")
