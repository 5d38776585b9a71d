"""The order and customer lists fit a laptop's screen (1366x768, 1280x720) without scrolling
sideways, and stay readable on a phone (390 px wide). Each width's screenshot goes to
test-artifacts/; what is asserted is measured in the page: the table no wider than its box, the
key columns' cells inside the viewport."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from shop import services
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOPS = [(1366, 768), (1280, 720)]
PHONE = (390, 844)
WIDTHS = [*LAPTOPS, PHONE]

# The columns (list_display names) each list must show whole on a laptop; on a phone the date
# (orders) and the name (customers) are left out.
KEY_COLUMNS = {
    "shop_order": ["id", "customer_name", "ordered", "financial_status", "total"],
    "shop_customer": ["id", "email", "name", "orders_count", "spent"],
}
PHONE_HIDDEN = {"ordered", "name"}

MEASURE = """(columns) => {
    const table = document.querySelector("#result_list");
    const box = table.parentElement;
    const cells = {};
    for (const column of columns) {
        const found = [...table.querySelectorAll(`.column-${column}, .field-${column}`)];
        cells[column] = found.map(cell => {
            const r = cell.getBoundingClientRect();
            return {left: r.left, right: r.right, width: r.width, visible: r.width > 0};
        });
    }
    const rows = [...table.querySelectorAll("tbody tr")].map(r => r.getBoundingClientRect().height);
    return {
        tableScrollWidth: table.scrollWidth,
        boxClientWidth: box.clientWidth,
        pageScrollWidth: document.documentElement.scrollWidth,
        viewportWidth: window.innerWidth,
        rowHeights: rows,
        cells: cells,
    };
}"""


@pytest.fixture
def orders(store):
    """Orders of customers with long names and emails, in a few states and currencies."""
    shirt = ProductFactory(title="Linen shirt", price=Decimal("1240.00"))
    for n, status in enumerate(["successful", "pending", "refunded", "successful"] * 3):
        customer = CustomerFactory(
            email=f"nour.abdelrahman.hassan{n}@example-store-customers.com",
            first_name="Nour El-Din",
            last_name=f"Abdelrahman Hassan {n}",
            currency="EGP" if n % 2 else "USD",
        )
        OrderFactory(
            customer=customer,
            financial_status=status,
            currency=customer.currency,
            line_items=[services.LineItemInput(product=shirt, quantity=1 + n)],
        )


def _measure(page, list_name: str, phone: bool) -> dict:
    columns = [c for c in KEY_COLUMNS[list_name] if not (phone and c in PHONE_HIDDEN)]
    return page.evaluate(MEASURE, columns)


@pytest.mark.parametrize("list_name", list(KEY_COLUMNS))
@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_list_fits_the_screen_without_scrolling_sideways(
    logged_in, live_server, orders, artifacts, list_name, width, height
):
    page = logged_in
    page.set_viewport_size({"width": width, "height": height})
    page.goto(live_server.url + reverse(f"admin:{list_name}_changelist"))
    page.locator("#result_list").wait_for()
    shot = artifacts / f"{list_name.removeprefix('shop_')}-list-{width}x{height}.png"
    page.screenshot(path=str(shot))
    measured = _measure(page, list_name, phone=(width, height) == PHONE)
    (artifacts / f"{shot.stem}.json").write_text(json.dumps(measured, indent=1))

    assert measured["tableScrollWidth"] <= measured["boxClientWidth"], measured
    assert measured["pageScrollWidth"] <= measured["viewportWidth"], measured
    for column, cells in measured["cells"].items():
        assert cells, f"no {column} column"
        for cell in cells:
            assert cell["visible"], (column, cell)
            assert cell["left"] >= 0, (column, cell)
            assert cell["right"] <= width, (column, cell)
    if (width, height) in LAPTOPS:
        assert max(measured["rowHeights"]) <= 40, measured["rowHeights"]
