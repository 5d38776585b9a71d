from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shop.models import Category
from tests.api.helpers import ids
from tests.factories import CategoryFactory, CustomerFactory

URL = "/api/v1/categories"


def test_a_page_is_the_laravel_resource_envelope(api):
    categories = CategoryFactory.create_batch(5)

    response = api.get(f"{URL}?per_page=2&page=2&ordering=id")

    body = response.json()
    assert [item["id"] for item in body["data"]] == [c.pk for c in categories[2:4]]
    base = "http://testserver/api/v1/categories?ordering=id&page={}&per_page=2"
    assert body["links"] == {
        "first": base.format(1),
        "last": base.format(3),
        "prev": base.format(1),
        "next": base.format(3),
    }
    assert body["meta"] == {
        "current_page": 2,
        "from": 3,
        "last_page": 3,
        "per_page": 2,
        "to": 4,
        "total": 5,
    }


def test_first_and_last_pages_have_no_prev_and_no_next(api):
    CategoryFactory.create_batch(3)
    first = api.get(f"{URL}?per_page=2").json()
    last = api.get(f"{URL}?per_page=2&page=2").json()
    assert first["links"]["prev"] is None
    assert first["links"]["next"].endswith("page=2&per_page=2")
    assert last["links"]["next"] is None
    assert last["meta"] == {
        "current_page": 2,
        "from": 3,
        "last_page": 2,
        "per_page": 2,
        "to": 3,
        "total": 3,
    }


def test_an_empty_list_has_one_empty_page(api):
    body = api.get(URL).json()
    assert body["data"] == []
    assert body["links"]["prev"] is None
    assert body["links"]["next"] is None
    assert body["meta"] == {
        "current_page": 1,
        "from": None,
        "last_page": 1,
        "per_page": 50,
        "to": None,
        "total": 0,
    }


def test_a_page_past_the_last_is_empty(api):
    CategoryFactory.create_batch(2)
    body = api.get(f"{URL}?page=7").json()
    assert body["data"] == []
    assert body["meta"]["current_page"] == 7
    assert body["meta"]["from"] is None
    assert body["links"]["next"] is None


def test_page_size_defaults_to_50_and_allows_250(api):
    CategoryFactory.create_batch(251)
    assert len(api.get(URL).json()["data"]) == 50
    full = api.get(f"{URL}?per_page=250").json()
    assert len(full["data"]) == 250
    assert full["meta"]["last_page"] == 2


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("per_page=251", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=1.5", "page"),
        ("page=" + "9" * 5000, "page"),
        ("page=1_0", "page"),
        ("per_page=1_0", "per_page"),
        ("page=%D9%A1%D9%A0", "page"),  # Arabic-Indic digits
        ("per_page=%EF%BC%91", "per_page"),  # a full-width digit
        ("page=%2B2", "page"),
        ("page=%202", "page"),
        ("per_page=10%20", "per_page"),
        ("per_page=0x10", "per_page"),
        ("page=2%0A", "page"),
    ],
)
def test_page_parameters_out_of_bounds_are_a_400_naming_them(api, query, parameter):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [parameter]


def test_a_huge_page_number_is_an_empty_page(api):
    response = api.get(f"{URL}?page={10**30}")
    assert response.status_code == 200
    assert response.json()["data"] == []


def test_pages_never_skip_or_repeat_rows_when_sort_keys_tie(api):
    customers = CustomerFactory.create_batch(7)
    # Equal sort keys: only the id tie-breaker makes the order stable.
    type(customers[0]).objects.update(created_at=customers[0].created_at)
    seen = []
    for page in range(1, 5):
        seen += ids(api.get(f"/api/v1/customers?ordering=-created_at&per_page=2&page={page}"))
    assert seen == [c.pk for c in customers]


# Cursor pages ---------------------------------------------------------------------------


def test_cursor_pages_walk_the_list_by_id_with_a_next_link_and_no_total(api):
    first, second, third = CategoryFactory.create_batch(3)

    body = api.get(f"{URL}?cursor=&per_page=2").json()

    assert body == {
        "data": [api.get(f"{URL}/{first.pk}").json(), api.get(f"{URL}/{second.pk}").json()],
        "links": {"next": f"http://testserver{URL}?cursor=i{second.pk}&per_page=2"},
        "meta": {"per_page": 2, "next_cursor": f"i{second.pk}"},
    }
    last = api.get(body["links"]["next"]).json()
    assert ids_of(last) == [third.pk]
    # The last page has no next link, but says where a later sync resumes.
    assert last["links"] == {"next": None}
    assert last["meta"] == {"per_page": 2, "next_cursor": f"i{third.pk}"}
    fourth = CategoryFactory()
    resumed = api.get(f"{URL}?cursor={last['meta']['next_cursor']}&per_page=2").json()
    assert ids_of(resumed) == [fourth.pk]


def ids_of(body) -> list[int]:
    return [item["id"] for item in body["data"]]


def test_a_cursor_page_is_found_by_its_keys_and_counts_nothing(api):
    categories = CategoryFactory.create_batch(4)
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{URL}?cursor=i{categories[1].pk}&per_page=2")
    assert ids(response) == [c.pk for c in categories[2:]]
    reads = [q["sql"] for q in queries if 'FROM "shop_category"' in q["sql"]]
    assert len(reads) == 1
    assert "COUNT(" not in reads[0]
    assert "OFFSET" not in reads[0]
    assert '"shop_category"."id" > ' in reads[0]
    assert reads[0].endswith("LIMIT 3")


def test_an_empty_list_has_one_empty_cursor_page(api):
    body = api.get(f"{URL}?cursor=").json()
    assert body == {
        "data": [],
        "links": {"next": None},
        "meta": {"per_page": 50, "next_cursor": None},
    }


def test_a_cursor_past_the_last_record_is_an_empty_page_that_keeps_its_place(api):
    CategoryFactory()
    for cursor in ("i999999", "i" + "9" * 19):
        body = api.get(f"{URL}?cursor={cursor}").json()
        assert body == {
            "data": [],
            "links": {"next": None},
            "meta": {"per_page": 50, "next_cursor": cursor},
        }


def test_a_cursor_fixes_the_order_so_page_and_ordering_do_not_apply(api):
    categories = CategoryFactory.create_batch(3)
    plain = api.get(f"{URL}?cursor=&per_page=2").json()
    mixed = api.get(f"{URL}?cursor=&per_page=2&page=3&ordering=-title").json()
    assert ids_of(mixed) == ids_of(plain) == [c.pk for c in categories[:2]]
    assert mixed["meta"] == plain["meta"]
    assert "page=3" not in mixed["links"]["next"]
    # Checked all the same.
    assert list(api.get(f"{URL}?cursor=&page=x").json()["errors"]) == ["page"]


@pytest.mark.parametrize(
    "cursor",
    ["abc", "i", "i-1", "i1.5", "u1", "u1.", "x1", "i1%0A", "%20i1", "i" + "9" * 20, "u1.2.3"],
)
def test_a_malformed_cursor_is_a_400_naming_it(api, cursor):
    response = api.get(f"{URL}?cursor={cursor}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_cursor_pages_of_a_sync_are_sorted_by_update_then_id(api):
    categories = CategoryFactory.create_batch(4)
    stamp = timezone.now()
    # The middle two share one updated_at: the id breaks the tie.
    for category, seconds in zip(categories, (3, 1, 1, 0), strict=True):
        Category.objects.filter(pk=category.pk).update(
            updated_at=stamp - timedelta(seconds=seconds)
        )
    since = (stamp - timedelta(days=1)).isoformat().replace("+", "%2B")

    seen, url = [], f"{URL}?cursor=&per_page=1&updated_after={since}"
    while url:
        body = api.get(url).json()
        seen += ids_of(body)
        url = body["links"]["next"]

    a, b, c, d = (category.pk for category in categories)
    assert seen == [a, b, c, d]
    assert body["meta"]["next_cursor"].startswith("u")
