import pytest

from shop.models import Category
from tests.api.helpers import ids, iso
from tests.factories import CategoryFactory

URL = "/api/v1/categories"


def test_category_detail_is_the_exact_item(api):
    parent = CategoryFactory()
    category = CategoryFactory(parent=parent, content="Board games")
    assert api.get(f"{URL}/{category.pk}").json() == {
        "id": category.pk,
        "title": category.title,
        "handle": category.handle,
        "content": "Board games",
        "parent": parent.pk,
        "available": True,
        "published_at": iso(category.published_at),
        "created_at": iso(category.created_at),
        "updated_at": iso(category.updated_at),
        "deleted_at": None,
    }


def test_category_crud_round_trip(api):
    parent = CategoryFactory()
    created = api.post(
        URL, {"title": "Games", "handle": "games", "parent": parent.pk}, format="json"
    )
    assert created.status_code == 201
    category_id = created.json()["id"]
    assert api.get(f"{URL}/{category_id}").json() == created.json()

    put = api.put(f"{URL}/{category_id}", {"title": "All games", "handle": "games"}, format="json")
    assert put.json()["title"] == "All games"
    assert put.json()["parent"] == parent.pk

    patched = api.patch(f"{URL}/{category_id}", {"parent": None}, format="json")
    assert patched.json()["parent"] is None

    before = api.get(f"{URL}/{category_id}").json()
    assert api.delete(f"{URL}/{category_id}").status_code == 204
    assert api.get(f"{URL}/{category_id}").status_code == 404
    assert api.post(f"{URL}/{category_id}/restore").status_code == 200
    after = api.get(f"{URL}/{category_id}").json()
    after.pop("updated_at"), before.pop("updated_at")
    assert after == before


def test_a_category_cannot_be_inside_itself(api):
    top = CategoryFactory()
    child = CategoryFactory(parent=top)
    response = api.patch(f"{URL}/{top.pk}", {"parent": child.pk}, format="json")
    # Well-formed, refused by the categories as they are: a conflict.
    assert response.status_code == 409
    assert list(response.json()["errors"]) == ["parent"]
    top.refresh_from_db()
    assert top.parent_id is None


def test_filters_narrow_the_list(api):
    top = CategoryFactory(title="Toys")
    child = CategoryFactory(title="Puzzles", parent=top)
    other = CategoryFactory(title="Books")
    cases = {
        f"parent={top.pk}": [child.pk],
        "query=puz": [child.pk],
        "ordering=title": [other.pk, child.pk, top.pk],
        "parent=": [top.pk, child.pk, other.pk],
    }
    for query, expected in cases.items():
        response = api.get(f"{URL}?{query}")
        assert response.status_code == 200, query
        assert ids(response) == expected, query


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("parent=top", "parent"),
        ("updated_after=2025", "updated_after"),
        ("is_deleted=deleted", "is_deleted"),
    ],
)
def test_malformed_filter_is_a_400_naming_the_parameter(api, query, parameter):
    response = api.get(f"{URL}?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [parameter]


def test_read_only_fields_cannot_be_set(api):
    response = api.post(
        URL, {"title": "Games", "handle": "games", "created_at": "2020-01-01"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"created_at": ["This field is read-only."]}
    assert not Category.objects.exists()
