"""The API accepts what its OpenAPI schema allows and refuses what it forbids, field by field.

For each field of each request body and each query parameter of each list, a set of values
(one of each JSON type, null, a string one past maxLength, integers one past each bound, an
empty list, text with NUL or blank) is sent, each alone in an otherwise valid request. The
schema judges each value (with the validator schemathesis uses): a value it forbids must be
refused with a 400 naming the field; one it allows must be taken (or refused by the store's
data, 409). This is the part of schemathesis' coverage phase where mismatches show, at a
fraction of its cost: test_fuzzing.py runs the whole phase with API_FUZZ_DEEP=1.
"""

import itertools
import json

import jsonschema_rs
import pytest

from tests.factories import CategoryFactory, CustomerFactory, OrderFactory, ProductFactory

serial = itertools.count()


def values_to_try(schema: dict) -> list:
    values: list = ["x", 7, 7.5, True, None, [], {}, "", "   ", "a\x00b", "7", "true", "2025-01-01"]
    for branch in [schema, *schema.get("oneOf", []), *schema.get("anyOf", [])]:
        if "maxLength" in branch:
            values.append("a" * (branch["maxLength"] + 1))
        for bound, step in (("minimum", -1), ("maximum", 1)):
            if bound in branch and isinstance(branch[bound], int):
                values.append(branch[bound] + step)
    return values


class Contract:
    """The schema's reading of a value, as schemathesis judges requests."""

    def __init__(self, document: dict):
        self.document = document

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            node = self.document["components"]["schemas"][name]
        return node

    def _nullable(self, node: dict) -> bool:
        node = self.resolve(node)
        return bool(node.get("nullable")) or any(
            self._nullable(branch) for branch in node.get("oneOf", []) + node.get("anyOf", [])
        )

    def allows(self, node: dict, value) -> bool:
        if value is None:
            return self._nullable(node)
        schema = {**node, "components": self.document["components"]}
        validator = jsonschema_rs.Draft4Validator(schema, validate_formats=True)
        return validator.is_valid(value)


@pytest.fixture
def contract(api) -> Contract:
    document = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return Contract(document.json())


def bodies() -> dict:
    """An otherwise valid body per resource (new unique values each call)."""
    n = next(serial)
    return {
        "customers": {"email": f"c{n}@example.com", "first_name": "Ann", "last_name": "Lee"},
        "orders": {
            "customer": CustomerFactory().pk,
            "line_items": [{"product": ProductFactory().pk, "quantity": 1}],
        },
        "products": {"title": "Lamp", "handle": f"lamp-{n}"},
        "categories": {"title": "Lamps", "handle": f"lamps-{n}"},
    }


def answered(response, field: str, allowed: bool) -> bool:
    if allowed:
        return response.status_code in (200, 201, 409)
    return response.status_code == 400 and field in response.json()["errors"]


COMPONENTS = {
    "customers": "CustomerInputRequest",
    "orders": "OrderInputRequest",
    "products": "ProductInputRequest",
    "categories": "CategoryInputRequest",
}


@pytest.mark.parametrize("resource", sorted(COMPONENTS))
def test_each_body_field_takes_what_the_schema_allows_and_refuses_the_rest(api, contract, resource):
    properties = contract.resolve({"$ref": COMPONENTS[resource]})["properties"]
    mismatches = []
    for field, node in properties.items():
        if field == "line_items":
            continue  # below
        for value in values_to_try(contract.resolve(node)):
            allowed = contract.allows(node, value)
            body = {**bodies()[resource], field: value}
            response = api.post(f"/api/v1/{resource}", body, format="json")
            if not answered(response, field, allowed):
                mismatches.append((field, value, allowed, response.status_code))
    assert not mismatches, "\n".join(map(repr, mismatches))


def test_each_line_item_field_and_the_list_take_what_the_schema_allows(api, contract):
    item = contract.resolve({"$ref": "LineItemInputRequest"})["properties"]
    line_items = contract.resolve({"$ref": "OrderInputRequest"})["properties"]["line_items"]
    mismatches = []
    for field, node in item.items():
        for value in values_to_try(contract.resolve(node)):
            body = bodies()["orders"]
            body["line_items"][0][field] = value
            response = api.post("/api/v1/orders", body, format="json")
            if not answered(response, "line_items", contract.allows(node, value)):
                mismatches.append((field, value, response.status_code))
    for value in ([], None, {}, "x"):
        body = {**bodies()["orders"], "line_items": value}
        response = api.post("/api/v1/orders", body, format="json")
        if not answered(response, "line_items", contract.allows(line_items, value)):
            mismatches.append(("line_items", value, response.status_code))
    assert not mismatches, "\n".join(map(repr, mismatches))


def test_a_patch_takes_what_the_schema_allows_field_by_field(api, contract):
    product = ProductFactory()
    properties = contract.resolve({"$ref": "PatchedProductInputRequest"})["properties"]
    mismatches = []
    for field, node in properties.items():
        for value in values_to_try(contract.resolve(node)):
            response = api.patch(f"/api/v1/products/{product.pk}", {field: value}, format="json")
            if not answered(response, field, contract.allows(node, value)):
                mismatches.append((field, value, response.status_code))
    assert not mismatches, "\n".join(map(repr, mismatches))


QUERY_VALUES = [
    "x",
    "7",
    "-1",
    "0",
    "1.5",
    "true",
    "TRUE",
    "1",
    "2025-01-01",
    "2025-01-01T00:00:00Z",
    "2025-01-01T00:00:00",
    "EGP",
    "egp",
    "id",
    "-id,id",
    "a\x00b",
    " 7",
    "9" * 25,
]


def query_allows(contract: Contract, node: dict, text: str) -> bool:
    """The schema's reading of a query string value (form style, comma-separated arrays)."""
    node = contract.resolve(node)
    if node.get("enum") and text.islower() and text.upper() in node["enum"]:
        return True  # a code parameter takes its codes in small letters too: EGP or egp
    kind = node.get("type")
    if kind == "array":
        return all(query_allows(contract, node["items"], part) for part in text.split(","))
    if kind in ("integer", "number", "boolean"):
        # The value as written in JSON, exactly: " 7" and "7.0" are no integer 7.
        try:
            value = json.loads(text)
        except ValueError:
            return False
        return json.dumps(value) == text and contract.allows(node, value)
    return contract.allows(node, text)


@pytest.mark.parametrize("resource", sorted(COMPONENTS))
def test_each_list_parameter_takes_what_the_schema_allows_and_refuses_the_rest(
    api, contract, resource
):
    OrderFactory()
    CategoryFactory()
    operation = contract.document["paths"][f"/api/v1/{resource}"]["get"]
    mismatches = []
    for parameter in operation["parameters"]:
        name = parameter["name"]
        for text in QUERY_VALUES:
            allowed = query_allows(contract, parameter["schema"], text)
            response = api.get(f"/api/v1/{resource}", {name: text})
            ok = (
                response.status_code == 200
                if allowed
                else (response.status_code == 400 and name in response.json()["errors"])
            )
            if not ok:
                mismatches.append((name, text, allowed, response.status_code))
    assert not mismatches, "\n".join(map(repr, mismatches))
