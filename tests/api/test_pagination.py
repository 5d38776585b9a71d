import pytest

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
