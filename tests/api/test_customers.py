from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.models import Customer, Order
from tests.api.helpers import ids, iso, money, store_day
from tests.factories import CustomerFactory, OrderFactory, ProductFactory

URL = "/api/v1/customers"


def customer_item(customer, *, orders_count=0, total_spent=0, first=None, last=None) -> dict:
    return {
        "id": customer.pk,
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "gender": customer.gender,
        "currency": customer.currency,
        "registered_at": iso(customer.registered_at),
        "accepts_marketing": customer.accepts_marketing,
        "orders_count": orders_count,
        "total_spent": money(total_spent),
        "first_order_at": iso(first),
        "last_order_at": iso(last),
        "created_at": iso(customer.created_at),
        "updated_at": iso(customer.updated_at),
        "deleted_at": iso(customer.deleted_at),
    }


def test_customer_detail_is_the_exact_item_with_order_stats(api):
    customer = CustomerFactory()
    first = OrderFactory(customer=customer, items=1, item_price=Decimal("10.10"))
    last = OrderFactory(
        customer=customer,
        items=2,
        item_price=Decimal("5.05"),
        ordered_at=first.ordered_at + timedelta(days=1),
    )
    OrderFactory(customer=customer, financial_status="canceled")

    response = api.get(f"{URL}/{customer.pk}")

    assert response.status_code == 200
    assert response.json() == customer_item(
        customer,
        orders_count=2,
        total_spent=Decimal("20.20"),
        first=first.ordered_at,
        last=last.ordered_at,
    )


def test_customer_crud_round_trip(api):
    created = api.post(
        URL,
        {
            "email": "Nour@Example.com",
            "first_name": "Nour",
            "last_name": "Adel",
            "gender": "female",
        },
        format="json",
    )
    assert created.status_code == 201
    customer_id = created.json()["id"]
    assert api.get(f"{URL}/{customer_id}").json() == created.json()

    replaced = api.put(
        f"{URL}/{customer_id}",
        {"email": "nour@example.org", "first_name": "Nour", "last_name": "Samir"},
        format="json",
    )
    assert replaced.status_code == 200
    assert replaced.json()["last_name"] == "Samir"
    assert replaced.json()["gender"] == "female"

    patched = api.patch(f"{URL}/{customer_id}", {"phone": "+201001234567"}, format="json")
    assert patched.status_code == 200
    assert patched.json()["phone"] == "+201001234567"
    assert patched.json()["email"] == "nour@example.org"

    assert api.delete(f"{URL}/{customer_id}").status_code == 204
    assert api.get(f"{URL}/{customer_id}").status_code == 404
    restored = api.post(f"{URL}/{customer_id}/restore")
    assert restored.status_code == 200
    assert restored.json()["deleted_at"] is None


def test_customer_create_uses_the_store_currency_by_default(api):
    response = api.post(
        URL, {"email": "a@example.com", "first_name": "A", "last_name": "B"}, format="json"
    )
    assert response.json()["currency"] == "EGP"


@pytest.mark.parametrize("email", ["taken@example.com", "TAKEN@example.com", "Taken@Example.COM"])
def test_duplicate_email_in_any_case_is_a_409_on_email(api, email):
    CustomerFactory(email="taken@example.com")
    response = api.post(URL, {"email": email, "first_name": "A", "last_name": "B"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "conflict",
        "message": "The request conflicts with the current state of the data.",
        "errors": {"email": ["A customer with this email already exists."]},
    }
    assert Customer.objects.count() == 1


def test_changing_email_to_another_customers_in_other_case_is_a_409(api):
    CustomerFactory(email="one@example.com")
    other = CustomerFactory(email="two@example.com")
    response = api.patch(f"{URL}/{other.pk}", {"email": "ONE@example.com"}, format="json")
    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["email"]


def test_missing_and_invalid_fields_are_named(api):
    response = api.post(URL, {"email": "not-an-email", "gender": "robot"}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"email", "first_name", "last_name", "gender"}


@pytest.mark.parametrize(
    "field",
    [
        "id",
        "created_at",
        "updated_at",
        "deleted_at",
        "orders_count",
        "total_spent",
        "first_order_at",
        "last_order_at",
    ],
)
def test_read_only_fields_cannot_be_set_on_create_or_update(api, field):
    body = {"email": "a@example.com", "first_name": "A", "last_name": "B", field: 1}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["This field is read-only."]}
    assert not Customer.objects.exists()

    customer = CustomerFactory()
    response = api.patch(f"{URL}/{customer.pk}", {field: 1}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["This field is read-only."]}


def test_unknown_fields_are_refused(api):
    body = {"email": "a@example.com", "first_name": "A", "last_name": "B", "is_admin": True}
    response = api.post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"is_admin": ["This field is not known."]}


def test_soft_delete_hides_then_restore_gives_back_identical_data(api):
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    assert api.delete(f"/api/v1/orders/{order.pk}").status_code == 204
    before = api.get(f"{URL}/{customer.pk}").json()

    assert api.delete(f"{URL}/{customer.pk}").status_code == 204
    assert api.get(f"{URL}/{customer.pk}").status_code == 404
    assert customer.pk not in ids(api.get(URL))
    # Gone from its own routes, a deleted record is listed with is_deleted=true.
    assert api.patch(f"{URL}/{customer.pk}", {"first_name": "X"}, format="json").status_code == 404
    (deleted,) = api.get(f"{URL}?is_deleted=true").json()["data"]
    assert deleted["id"] == customer.pk
    assert deleted["deleted_at"] is not None

    restored = api.post(f"{URL}/{customer.pk}/restore")
    after = api.get(f"{URL}/{customer.pk}").json()

    assert restored.json() == after
    # updated_at moves on delete and restore, so an incremental sync sees both.
    assert after.pop("updated_at") > before.pop("updated_at")
    assert after == before


def test_delete_of_a_deleted_customer_is_404_and_restore_of_a_live_one_is_a_no_op(api):
    customer = CustomerFactory(deleted_at=timezone.now())
    assert api.delete(f"{URL}/{customer.pk}").status_code == 404
    live = CustomerFactory()
    response = api.post(f"{URL}/{live.pk}/restore")
    assert response.status_code == 200
    assert response.json()["deleted_at"] is None


def test_unknown_customer_is_a_404_everywhere(api):
    for method in ("get", "put", "patch", "delete"):
        assert getattr(api, method)(f"{URL}/999999").status_code == 404
    assert api.post(f"{URL}/999999/restore").status_code == 404


def test_currency_scopes_money_fields_and_membership(api):
    both = CustomerFactory()
    OrderFactory(customer=both, currency="EGP", items=1, item_price=Decimal("10.00"))
    OrderFactory(customer=both, currency="USD", items=1, item_price=Decimal("3.00"))
    egp_only = CustomerFactory()
    OrderFactory(customer=egp_only, currency="EGP", items=1, item_price=Decimal("7.00"))
    CustomerFactory()  # no orders

    response = api.get(f"{URL}?currency=usd")

    assert ids(response) == [both.pk]
    item = response.json()["data"][0]
    assert (item["orders_count"], item["total_spent"]) == (1, 3.0)
    detail = api.get(f"{URL}/{both.pk}?currency=egp").json()
    assert (detail["orders_count"], detail["total_spent"]) == (1, 10.0)
    # Without a currency, total_spent sums only the orders in the customer's own (EGP).
    everything = api.get(f"{URL}/{both.pk}").json()
    assert (everything["orders_count"], everything["total_spent"]) == (2, 10.0)
    assert ids(api.get(f"{URL}?currency=EGP")) == [both.pk, egp_only.pk]


def test_filters_narrow_the_list(api):
    old = timezone.now() - timedelta(days=10)
    ana = CustomerFactory(
        email="ana@example.com", first_name="Ana", last_name="Lopez", phone="+201000000111"
    )
    bob = CustomerFactory(email="bob@example.com", first_name="Bob", last_name="Anand")
    cai = CustomerFactory(
        email="cai@example.com", first_name="Cai", last_name="Wu", gender="female"
    )
    Customer.objects.filter(pk=cai.pk).update(created_at=old, updated_at=old)
    product = ProductFactory()
    OrderFactory(
        customer=bob,
        line_items=[{"product": product, "quantity": 1}],
        financial_status="successful",
    )
    OrderFactory(customer=cai, financial_status="pending")
    today = store_day(timezone.now())
    old_day = store_day(old)

    cases = {
        "query=ANA@example.com": [ana.pk],
        "query=ana": [ana.pk, bob.pk],
        "query=ana lop": [ana.pk],
        "email=BOB@example.com": [bob.pk],
        "phone=%2B201000000111": [ana.pk],
        "gender=female": [cai.pk],
        "has_orders=true": [bob.pk],
        "has_orders=false": [ana.pk, cai.pk],
        f"created_from={today}": [ana.pk, bob.pk],
        f"created_to={old_day}": [cai.pk],
        f"updated_after={(old + timedelta(days=1)).isoformat().replace('+', '%2B')}": [
            ana.pk,
            bob.pk,
        ],
        f"product={product.pk}": [bob.pk],
        "ordering=-id": [cai.pk, bob.pk, ana.pk],
        "ordering=created_at": [cai.pk, ana.pk, bob.pk],
        "ordering=-updated_at,id": [bob.pk, ana.pk, cai.pk],
        "email=&query=&gender=&has_orders=": [ana.pk, bob.pk, cai.pk],
    }
    for query, expected in cases.items():
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, query
        assert ids(response) == expected, query


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("gender=robot", "gender"),
        ("currency=ZZZ", "currency"),
        ("currency=euro", "currency"),
        ("has_orders=maybe", "has_orders"),
        ("created_from=2025-13-01", "created_from"),
        ("created_to=yesterday", "created_to"),
        ("updated_after=2025-02-30T00:00:00Z", "updated_after"),
        ("is_deleted=perhaps", "is_deleted"),
        ("product=abc", "product"),
        ("product=1.5", "product"),
        ("product=0", "product"),
        ("ordering=email", "ordering"),
    ],
)
def test_malformed_filter_is_a_400_naming_the_parameter(api, query, parameter):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [parameter]
    assert body["errors"][parameter][0]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("currency=xx", "currency"), ("currency=%00", "currency")],
)
def test_malformed_detail_parameter_is_a_400_naming_it(api, query, parameter):
    customer = CustomerFactory()
    response = api.get(f"{URL}/{customer.pk}?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [parameter]


def test_incremental_sync_with_updated_after_and_ordering(api):
    first, second = CustomerFactory(), CustomerFactory()
    page = api.get(f"{URL}?ordering=updated_at").json()["data"]
    assert [c["id"] for c in page] == [first.pk, second.pk]
    mark = page[-1]["updated_at"]

    api.patch(f"{URL}/{first.pk}", {"first_name": "Changed"}, format="json")

    changed = api.get(f"{URL}?ordering=updated_at&updated_after={mark}").json()["data"]
    assert [c["id"] for c in changed] == [second.pk, first.pk]
    assert changed[-1]["first_name"] == "Changed"


def test_figures_are_computed_for_the_rows_of_the_page_alone(api):
    for _ in range(5):
        OrderFactory(items=1, currency="EGP")
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{URL}?per_page=2&page=2&currency=egp&has_orders=true")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 2
    customers = [q["sql"] for q in queries if 'FROM "shop_customer"' in q["sql"]]
    count, page = customers
    # The count and the filters test for an order (EXISTS); no figure is summed for them.
    assert count.startswith("SELECT COUNT(*)")
    assert "EXISTS" in count
    assert "SUM(" not in count
    # The page's ids are found first; the figures are summed for those rows only.
    outer, _, ids_of_page = page.partition(" IN (SELECT ")
    assert "SUM(" in outer
    assert "SUM(" not in ids_of_page
    assert "LIMIT 2 OFFSET 2" in ids_of_page


def test_currency_and_has_orders_agree_with_the_figures(api):
    # The filters test for an order with EXISTS, the figures count them: the same rule.
    def customer(*orders):
        buyer = CustomerFactory(currency="EGP")
        for currency, status, deleted in orders:
            order = OrderFactory(customer=buyer, currency=currency, financial_status=status)
            if deleted:
                Order.objects.filter(pk=order.pk).update(deleted_at=timezone.now())
        return buyer

    customer()
    customer(("EGP", "successful", False))
    customer(("USD", "successful", False), ("EGP", "pending", False))
    customer(("EGP", "successful", True), ("USD", "refunded", False))
    customer(("USD", "successful", False), ("EGP", "successful", False))
    deleted = customer(("EGP", "successful", False))
    Customer.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())

    for currency in (None, "EGP", "USD"):
        figures = Customer.objects.alive().with_order_stats(currency=currency).order_by("id")
        scope = f"currency={currency}&" if currency else ""
        with_orders = [c.pk for c in figures if c.orders_count > 0]
        without = [c.pk for c in figures if c.orders_count == 0]
        assert ids(api.get(f"{URL}?{scope}has_orders=true")) == with_orders, currency
        if currency:
            # A currency lists only customers with an order in it.
            assert ids(api.get(f"{URL}?{scope}")) == with_orders, currency
        else:
            assert ids(api.get(f"{URL}?has_orders=false")) == without


def test_updated_after_lists_deleted_customers_so_a_sync_learns_of_deletions(api):
    mark = iso(timezone.now() - timedelta(minutes=1))
    kept, gone = CustomerFactory(), CustomerFactory()
    api.delete(f"{URL}/{gone.pk}")

    listed = api.get(f"{URL}?updated_after={mark}").json()["data"]

    assert [c["id"] for c in listed] == [kept.pk, gone.pk]
    assert listed[0]["deleted_at"] is None
    assert listed[1]["deleted_at"] is not None
    assert ids(api.get(f"{URL}?updated_after={mark}&is_deleted=false")) == [kept.pk]
    assert ids(api.get(f"{URL}?updated_after={mark}&is_deleted=true")) == [gone.pk]
    assert ids(api.get(URL)) == [kept.pk]


def test_deleting_a_customer_with_live_orders_is_a_409_naming_them(api):
    order = OrderFactory()
    response = api.delete(f"{URL}/{order.customer_id}")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert list(response.json()["errors"]) == ["orders"]


def test_ordered_from_and_to_narrow_to_customers_with_one_order_in_the_range(api):
    now = timezone.now()
    early, late = now - timedelta(days=20), now - timedelta(days=2)
    product = ProductFactory()
    # Ordered in EGP in the range, with the product.
    ana = CustomerFactory()
    OrderFactory(
        customer=ana,
        ordered_at=late,
        currency="EGP",
        line_items=[{"product": product, "quantity": 1}],
    )
    # Ordered early and today, but never inside [early + 1 day, late]: two bounds, one order.
    bob = CustomerFactory()
    OrderFactory(customer=bob, ordered_at=early, currency="EGP")
    OrderFactory(customer=bob, ordered_at=now, currency="EGP")
    # In the range, but in USD; and one whose order in the range is not successful.
    cai = CustomerFactory()
    OrderFactory(customer=cai, ordered_at=late, currency="USD")
    dan = CustomerFactory()
    OrderFactory(customer=dan, ordered_at=late, currency="EGP", financial_status="pending")

    start, end = store_day(early + timedelta(days=1)), store_day(late)
    cases = {
        f"ordered_from={start}&ordered_to={end}": [ana.pk, cai.pk],
        f"ordered_from={start}&ordered_to={end}&currency=egp": [ana.pk],
        f"ordered_from={start}&ordered_to={end}&currency=USD": [cai.pk],
        f"ordered_from={start}&ordered_to={end}&product={product.pk}": [ana.pk],
        f"ordered_from={store_day(now)}": [bob.pk],
        f"ordered_to={store_day(early)}": [bob.pk],
        "ordered_to=0000-01-01": [],
        "ordered_from=&ordered_to=": [ana.pk, bob.pk, cai.pk, dan.pk],
    }
    for query, expected in cases.items():
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, query
        assert ids(response) == expected, query
    # The figures of the rows stay the currency's, as without the date range.
    item = api.get(f"{URL}?ordered_from={start}&currency=egp").json()["data"][0]
    assert (item["id"], item["orders_count"]) == (ana.pk, 1)


@pytest.mark.parametrize(
    ("path", "query", "parameter"),
    [
        (URL, "ordered_form=2026-01-01", "ordered_form"),
        (URL, "min_total=5", "min_total"),  # an orders filter
        ("/api/v1/orders", "ordered_form=2026-01-01", "ordered_form"),
        ("/api/v1/orders", "query=x", "query"),
        ("/api/v1/products", "cursr=abc", "cursr"),
        ("/api/v1/categories", "Parent=1", "Parent"),
    ],
)
def test_an_unknown_query_parameter_is_a_400_naming_it(api, path, query, parameter):
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [parameter]
    assert "Unknown query parameter" in body["errors"][parameter][0]


def test_a_record_route_refuses_parameters_it_does_not_read(api):
    customer = CustomerFactory()
    assert api.get(f"{URL}/{customer.pk}?currency=egp").status_code == 200
    assert api.get(f"{URL}/{customer.pk}?format=json").status_code == 200
    response = api.get(f"{URL}/{customer.pk}?page=2")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["page"]
    response = api.patch(f"{URL}/{customer.pk}?dry_run=1", {"first_name": "X"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["dry_run"]
    customer.refresh_from_db()
    assert customer.first_name != "X"


def test_unknown_parameters_are_checked_after_the_key(client, store):
    response = client.get(f"{URL}?ordered_form=2026-01-01")
    assert response.status_code == 401
