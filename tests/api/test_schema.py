import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

from shop.api import views

LISTS = {
    "/api/v1/customers": views.CustomerViewSet,
    "/api/v1/orders": views.OrderViewSet,
    "/api/v1/products": views.ProductViewSet,
    "/api/v1/categories": views.CategoryViewSet,
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    # Raises on an invalid schema and on any warning of the generator.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_schema_validates_without_warnings(schema):
    assert schema["openapi"].startswith("3.")
    # 4 resources x 4 routes, 3 bulk routes, 2 webhooks, a customer's erase and export
    assert len(schema["paths"]) == 23


def test_schema_is_served(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert set(response.json()["paths"]) == {
        f"{base}{suffix}"
        for base in LISTS
        for suffix in ("", "/{id}", "/{id}/restore", "/{id}/history")
    } | {"/api/v1/webhooks", "/api/v1/webhooks/{id}"} | {
        f"/api/v1/{resource}/bulk" for resource in ("customers", "orders", "products")
    } | {"/api/v1/customers/{id}/erase", "/api/v1/customers/{id}/export"}


def test_swagger_ui_is_served_without_any_cdn(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        if asset == "/api/docs/?script=":  # the start-up script, served by the view itself
            continue
        # Swagger UI from the sidecar package, the page's own stylesheet from shop/static.
        assert asset.startswith(("/static/drf_spectacular_sidecar/", "/static/shop/")), asset
        assert finders.find(asset.removeprefix("/static/")), asset
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
    assert "cdn" not in html.lower()


def test_every_filter_is_a_documented_parameter_of_its_list(schema):
    for path, view in LISTS.items():
        documented = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        expected = {*view.filterset_class.base_filters, "page", "per_page", "cursor"}
        assert set(documented) == expected, path
        for name, parameter in documented.items():
            assert parameter.get("description"), (path, name)


def test_every_operation_documents_its_error_answers(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429", "500"} <= codes, (path, method)
            if "{id}" in path:
                assert "404" in codes, (path, method)
            if method in ("post", "put", "patch") and not path.endswith("restore"):
                assert {"400", "409", "413", "415"} <= codes, (path, method)
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }


def test_every_operation_names_its_scope_and_accepts_keys_and_sessions(schema):
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert re.search(r"`\w+\.(read|write|erase|export)` scope", operation["description"])
            assert operation["security"] == [{"apiKey": []}, {"cookieAuth": []}]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_request_bodies_refuse_unknown_fields(schema):
    components = schema["components"]["schemas"]
    for name in ("CustomerInputRequest", "OrderInputRequest", "PatchedOrderInputRequest"):
        assert components[name]["additionalProperties"] is False
    assert "id" not in components["CustomerInputRequest"]["properties"]
    assert "total_price" not in components["OrderInputRequest"]["properties"]


def test_every_parameter_is_described(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), (path, method, parameter["name"])


def _nodes(node):
    """Every object of a JSON document."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def test_each_enum_lists_each_value_once_in_any_case(schema):
    enums = [node["enum"] for node in _nodes(schema) if isinstance(node.get("enum"), list)]
    assert any(len(enum) > 150 for enum in enums)  # the currency and country codes
    for enum in enums:
        folded = [str(value).casefold() for value in enum]
        assert len(set(folded)) == len(folded), enum[:5]


def test_each_page_style_of_each_list_is_a_named_component(schema):
    components = schema["components"]["schemas"]
    for view in LISTS.values():
        item = view.serializer_class.__name__.removesuffix("Serializer")
        styles = [f"{item}NumberedPage", f"{item}CursorPage"]
        assert components[f"Paginated{item}List"] == {
            "oneOf": [{"$ref": f"#/components/schemas/{name}"} for name in styles]
        }
        for name in styles:
            assert components[name]["properties"]["data"]["items"] == {
                "$ref": f"#/components/schemas/{item}"
            }
    assert components["CursorPageMeta"]["additionalProperties"] is False


def test_names_are_unique_and_every_titled_object_is_a_component(schema):
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    components = schema["components"]["schemas"]
    for name, component in components.items():
        assert component.get("title", name) == name
    inline = [
        node["title"]
        for component in components.values()
        for node in _nodes(component.get("properties", {}))
        if node.get("type") == "object" and "title" in node
    ]
    assert inline == []


def test_a_nullable_field_of_an_answer_is_optional_and_one_of_a_request_stays_required(schema):
    components = schema["components"]["schemas"]
    for name, component in components.items():
        for field, node in component.get("properties", {}).items():
            if node.get("nullable") and not name.endswith("Request"):
                assert field not in component.get("required", []), (name, field)
    assert components["Customer"]["properties"]["deleted_at"]["nullable"] is True
    assert components["Customer"]["properties"]["first_order_at"]["nullable"] is True
    assert {"id", "updated_at", "email"} <= set(components["Customer"]["required"])
    assert "deleted_at" not in components["Order"]["required"]
