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
    assert len(schema["paths"]) == 12


def test_schema_is_served(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert set(response.json()["paths"]) == {
        f"{base}{suffix}" for base in LISTS for suffix in ("", "/{id}", "/{id}/restore")
    }


def test_swagger_ui_is_served_without_any_cdn(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for asset in assets:
        if asset == "/api/docs/?script=":  # the start-up script, served by the view itself
            continue
        assert asset.startswith("/static/drf_spectacular_sidecar/"), asset
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
            assert re.search(r"`\w+\.(read|write)` scope", operation["description"])
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
