"""A store admin's day in a real browser: log in, add a customer and an order with two line
items, see them on the dashboard and in the feed preview, paste converted.in's token, import a
CSV with a bad row. Screenshots of the dashboard and the connection page go to test-artifacts/.
"""

import json
import re
import urllib.request
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from feeds.models import FeedToken
from feeds.tokens import feed_token_create
from shop.demo import seed
from shop.models import Customer, ImportRun, Order
from shop.tasks import import_advance
from tests.factories import ProductFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _pick(page, container_id: str, search: str, option: str) -> None:
    """Choose an option of an admin autocomplete (select2) field."""
    page.click(f"span[aria-labelledby~='{container_id}']")
    page.fill(".select2-container--open .select2-search__field", search)
    page.click(f".select2-results__option:has-text('{option}')")
    expect(page.locator(f"#{container_id}")).to_contain_text(option)


def test_admin_adds_a_customer_and_an_order_and_sees_them_on_the_dashboard_and_in_the_feed(
    logged_in, live_server, artifacts
):
    page = logged_in
    ProductFactory(title="Linen shirt", handle="linen-shirt", price=Decimal("40.00"))
    ProductFactory(title="Clay mug", handle="clay-mug", price=Decimal("12.50"))

    page.goto(f"{live_server.url}/admin/shop/customer/add/")
    page.fill("#id_email", "nour@example.com")
    page.fill("#id_first_name", "Nour")
    page.fill("#id_last_name", "Hassan")
    page.fill("#id_phone", "+201001234567")
    page.select_option("#id_gender", "female")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Customer.objects.get().email == "nour@example.com"

    page.goto(f"{live_server.url}/admin/shop/order/add/")
    _pick(page, "select2-id_customer-container", "nour", "nour@example.com")
    page.select_option("#id_financial_status", "successful")
    _pick(page, "select2-id_line_items-0-product-container", "linen", "Linen shirt")
    page.fill("#id_line_items-0-quantity", "2")
    page.click(".add-row a")
    _pick(page, "select2-id_line_items-1-product-container", "clay", "Clay mug")
    page.fill("#id_line_items-1-quantity", "1")
    page.click("input[name=_save]")
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    order = Order.objects.get()
    assert order.line_items.count() == 2
    assert order.total_price == Decimal("92.50")

    page.goto(f"{live_server.url}/admin/")
    orders = page.locator("[data-figure='orders'] .shop-figure-value")
    expect(orders).to_have_text("1")
    expect(page.locator("[data-figure='revenue'] .shop-figure-value")).to_have_text("92.50")
    expect(page.locator("[data-figure='new-customers'] .shop-figure-value")).to_have_text("1")
    expect(page.locator(".shop-top")).to_contain_text("Linen shirt")
    expect(page.locator("svg.shop-chart .bars rect")).to_have_count(90)

    page.goto(f"{live_server.url}/admin/convertedin/?preview=orders")
    expect(page.locator("#preview-json")).to_contain_text('"data"')
    shown = json.loads(page.locator("#preview-json").inner_text())
    assert [item["id"] for item in shown["data"]] == [order.pk]
    assert {(li["quantity"], li["price"]) for li in shown["data"][0]["line_items"]} == {
        (2, 40),
        (1, 12.5),
    }
    assert page.context.foreign_requests == []


def test_admin_pastes_a_feed_token_and_sees_only_its_hint(logged_in, live_server, artifacts):
    page = logged_in
    secret = "cv-7f3a9c2e51d04b8e-Q9zK"

    page.goto(f"{live_server.url}/admin/convertedin/")
    expect(page.locator("#base-url")).to_have_text(f"{live_server.url}/")
    page.fill("#id_token-name", "converted.in")
    page.fill("#id_token-token", secret)
    page.click("input[value='Save token']")

    expect(page.locator(".messagelist")).to_contain_text("ending in …Q9zK is active")
    row = page.locator(".shop-tokens tbody tr").first
    expect(row.locator(".hint")).to_have_text("…Q9zK")
    expect(row).to_contain_text("never")
    assert secret not in page.content()
    assert FeedToken.objects.get().hint == "Q9zK"


def test_admin_revokes_a_feed_token(logged_in, live_server):
    page = logged_in
    feed_token_create(name="old", token="cv-old-token-0000-AAAA")

    page.goto(f"{live_server.url}/admin/convertedin/")
    page.click("button.revoke")

    expect(page.locator(".messagelist")).to_contain_text("is revoked")
    expect(page.locator(".shop-tokens tbody tr").first).to_contain_text("revoked")
    assert FeedToken.objects.get().revoked_at is not None


def test_admin_imports_a_csv_with_one_bad_row_and_sees_the_error(logged_in, live_server, tmp_path):
    page = logged_in
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "email,first_name,last_name,phone\n"
        "amal@example.com,Amal,Saleh,+201001112223\n"
        "not-an-email,Omar,Fathy,+201001112224\n"
        "hoda@example.com,Hoda,Ali,+201001112225\n"
    )

    page.goto(f"{live_server.url}/admin/shop/customer/")
    page.click("a.import_link")
    page.set_input_files("#id_import_file", str(csv))
    page.select_option("#id_format", label="csv")
    page.click("input[type=submit]")
    # The import's page; the worker checks the file (its task, run here), then the preview.
    expect(page.locator(".shop-import-state")).to_contain_text("Checking")
    import_advance.call(ImportRun.objects.get().pk)
    page.reload()

    counts = page.locator(".shop-import-counts tbody")
    expect(counts.locator(".new")).to_have_text("2")
    expect(counts.locator(".refused")).to_have_text("1")
    bad_row = page.locator(".shop-import-refusals tbody tr")
    expect(bad_row).to_have_count(1)
    expect(bad_row.locator("td").nth(0)).to_have_text("2")
    expect(bad_row.locator("td").nth(1)).to_have_text("email")
    expect(bad_row.locator("td").nth(2)).to_contain_text("Enter a valid email address.")
    expect(page.locator("input[value='Confirm import']")).to_have_count(0)
    assert Customer.objects.count() == 0


def test_dashboard_and_connection_page_of_a_store_with_history(logged_in, live_server, artifacts):
    """Screenshots of both pages with a few months of orders and a converted.in crawl."""
    page = logged_in
    seed(customers=120, orders=1500, seed=3)
    token = "cv-screenshot-token-5d1e"
    feed_token_create(name="converted.in", token=token)
    for endpoint, pages in [("storeinfo", 1), ("categories", 1), ("products", 2), ("orders", 3)]:
        for number in range(1, pages + 1):
            body = json.dumps({"token": token, "page": number, "per_page": 500}).encode()
            request = urllib.request.Request(
                f"{live_server.url}/convertedin/{endpoint}",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as answer:  # noqa: S310 - the live server
                assert answer.status == 200

    page.goto(f"{live_server.url}/admin/")
    expect(page.locator(".shop-dashboard")).to_be_visible()
    figures = page.locator(".shop-figure-value").all_inner_texts()
    assert all(re.fullmatch(r"[\d,.]+", f) for f in figures), figures
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    page.goto(f"{live_server.url}/admin/convertedin/?preview=orders")
    orders = page.locator(".shop-crawls tr[data-endpoint='orders']")
    expect(orders).not_to_contain_text("No full crawl")
    expect(orders).to_contain_text(f"{Order.objects.alive().count():,}")
    expect(page.locator(".shop-requests tbody tr")).to_have_count(7)
    page.screenshot(path=str(artifacts / "connection.png"), full_page=True)
    assert page.context.foreign_requests == []


def test_swagger_ui_renders_the_api_within_the_content_security_policy(logged_in, live_server):
    response = logged_in.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # At least 28 operations: the 28th is there once Swagger UI has drawn the schema.
    expect(logged_in.locator(".opblock").nth(27)).to_be_attached()
