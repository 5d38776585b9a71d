from datetime import timedelta

import pytest
from django.utils import timezone

from shop.models import Product
from tests.api.helpers import ids, iso
from tests.factories import CategoryFactory, ProductFactory

URL = "/api/v1/products"


def test_product_detail_is_the_exact_item(api):
    product = ProductFactory(compare_at_price="60.00")
    assert api.get(f"{URL}/{product.pk}").json() == {
        "id": product.pk,
        "title": product.title,
        "handle": product.handle,
        "sku": product.sku,
        "category": product.category_id,
        "content": product.content,
        "vendor": "Acme",
        "price": 50.0,
        "compare_at_price": 60.0,
        "quantity": 10,
        "image_url": product.image_url,
        "url": product.url,
        "published_at": iso(product.published_at),
        "tags": "new, sale",
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
        "deleted_at": None,
    }


def test_product_crud_round_trip(api):
    category = CategoryFactory()
    created = api.post(
        URL,
        {"title": "Lamp", "handle": "lamp", "price": "19.99", "category": category.pk},
        format="json",
    )
    assert created.status_code == 201
    product_id = created.json()["id"]
    assert created.json()["price"] == 19.99
    assert api.get(f"{URL}/{product_id}").json() == created.json()

    put = api.put(f"{URL}/{product_id}", {"title": "Desk lamp", "handle": "lamp"}, format="json")
    assert put.status_code == 200
    assert put.json()["title"] == "Desk lamp"

    patched = api.patch(f"{URL}/{product_id}", {"category": None, "quantity": 3}, format="json")
    assert (patched.json()["category"], patched.json()["quantity"]) == (None, 3)

    before = api.get(f"{URL}/{product_id}").json()
    assert api.delete(f"{URL}/{product_id}").status_code == 204
    assert api.get(f"{URL}/{product_id}").status_code == 404
    assert api.post(f"{URL}/{product_id}/restore").status_code == 200
    after = api.get(f"{URL}/{product_id}").json()
    after.pop("updated_at"), before.pop("updated_at")
    assert after == before


def test_duplicate_handle_is_a_409_on_handle(api):
    ProductFactory(handle="lamp")
    response = api.post(URL, {"title": "Lamp", "handle": "lamp"}, format="json")
    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["handle"]


def test_negative_price_is_refused(api):
    response = api.post(URL, {"title": "Lamp", "handle": "lamp", "price": -1}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["price"]
    assert not Product.objects.exists()


def test_filters_narrow_the_list(api):
    books, games = CategoryFactory(), CategoryFactory()
    novel = ProductFactory(title="A Novel", category=books, sku="BK-1")
    draft = ProductFactory(title="Draft", category=books, published_at=None)
    chess = ProductFactory(title="Chess", category=games)
    later = ProductFactory(
        title="Later", category=games, published_at=timezone.now() + timedelta(days=1)
    )
    Product.objects.filter(pk=chess.pk).update(updated_at=timezone.now() - timedelta(days=5))

    cases = {
        f"category={books.pk}": [novel.pk, draft.pk],
        "published=true": [novel.pk, chess.pk],
        "published=false": [draft.pk, later.pk],
        "query=nov": [novel.pk],
        "query=bk-1": [novel.pk],
        f"updated_after={(timezone.now() - timedelta(days=1)).date().isoformat()}": [
            novel.pk,
            draft.pk,
            later.pk,
        ],
        "ordering=-title": [later.pk, draft.pk, chess.pk, novel.pk],
        "category=&published=": [novel.pk, draft.pk, chess.pk, later.pk],
    }
    for query, expected in cases.items():
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, query
        assert ids(response) == expected, query


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("category=books", "category"),
        ("published=yes please", "published"),
        ("updated_after=2025-01-01T25:00:00", "updated_after"),
        ("ordering=vendor", "ordering"),
    ],
)
def test_malformed_filter_is_a_400_naming_the_parameter(api, query, parameter):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [parameter]


@pytest.mark.parametrize("field", ["id", "created_at", "updated_at", "deleted_at"])
def test_read_only_fields_cannot_be_set(api, field):
    product = ProductFactory()
    response = api.patch(f"{URL}/{product.pk}", {field: 1}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {field: ["This field is read-only."]}
