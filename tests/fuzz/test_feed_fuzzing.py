"""Fuzz the converted.in feed: schemathesis over an OpenAPI description of its five
endpoints (form-data bodies), and hypothesis over any string in its fields. No input may get
a server error, a non-JSON answer or an answer that breaks its schema."""

import copy
import json
from pathlib import Path

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feeds.tokens import feed_token_create
from tests.factories import CategoryFactory, OrderFactory, StoreFactory

SCHEMAS = Path(__file__).resolve().parents[2] / "feeds" / "schemas"
ENDPOINTS = ["storeinfo", "categories", "products", "customers", "orders"]
TOKEN = "fuzz-feed-token-0123456789"


def _component(name: str) -> tuple[dict, dict]:
    """Return an endpoint's JSON Schema with its $defs moved into components."""
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    text = json.dumps(schema)
    components = {}
    for def_name, definition in defs.items():
        target = f"{name}_{def_name}"
        text = text.replace(f'"#/$defs/{def_name}"', f'"#/components/schemas/{target}"')
        components[target] = definition
    for target, definition in list(components.items()):
        raw = json.dumps(definition)
        for def_name in defs:
            raw = raw.replace(f'"#/$defs/{def_name}"', f'"#/components/schemas/{name}_{def_name}"')
        components[target] = json.loads(raw)
    return json.loads(text), components


def feed_openapi(valid_token: str) -> dict:
    """An OpenAPI 3.1 description of the feed, as converted.in's crawler calls it."""
    components: dict = {}
    error = json.loads((SCHEMAS / "error.json").read_text())
    for key in ("$schema", "$id"):
        error.pop(key, None)
    components["error"] = error
    paths = {}
    for name in ENDPOINTS:
        body_schema, defs = _component(name)
        components.update(defs)
        components[name] = body_schema
        fields = {"token": {"type": "string", "enum": [valid_token]}}
        if name != "storeinfo":
            fields |= {
                "page": {"type": "string"},
                "per_page": {"type": "string"},
                "par_page": {"type": "string"},
            }
        if name == "products":
            fields["collection_id"] = {"type": "string"}
        form = {"type": "object", "properties": fields, "required": ["token"]}
        error_ref = {"$ref": "#/components/schemas/error"}
        answers = {
            "200": {
                "description": "A page",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                },
            }
        }
        for status in ("400", "401", "404", "413", "415", "422", "429"):
            answers[status] = {
                "description": "An error",
                "content": {"application/json": {"schema": error_ref}},
            }
        paths[f"/convertedin/{name}"] = {
            "post": {
                "operationId": f"feed_{name}",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-www-form-urlencoded": {"schema": form},
                        "multipart/form-data": {"schema": form},
                    },
                },
                "responses": answers,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "converted.in feed", "version": "1"},
        "paths": paths,
        "components": {"schemas": copy.deepcopy(components)},
    }


schema = schemathesis.openapi.from_dict(feed_openapi(TOKEN))
schema.app = get_wsgi_application()


@pytest.fixture
def feed_store(db):
    # Like Django's test client: the WSGI app must not close the test's connection when a
    # request ends.
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    StoreFactory()
    feed_token_create(name="fuzz", token=TOKEN)
    parent = CategoryFactory()
    CategoryFactory(parent=parent)
    for _ in range(3):
        OrderFactory(items=2)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_feed_answers_any_form_body_without_server_errors_or_schema_breaks(case, feed_store):
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    case.call_and_validate(
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]
    )


VALIDATORS = {}


def _validate(endpoint: str, response) -> None:
    import jsonschema

    name = endpoint if response.status_code == 200 else "error"
    if name not in VALIDATORS:
        VALIDATORS[name] = jsonschema.Draft202012Validator(
            json.loads((SCHEMAS / f"{name}.json").read_text())
        )
    assert response.status_code < 500, response.content
    assert response["Content-Type"] == "application/json"
    VALIDATORS[name].validate(json.loads(response.content))


any_text = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["", " ", "1", "0", "-1", "1.5", "1e3", "１", "٣", "999999999999999999999"]),
)


@pytest.mark.django_db
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    page=any_text,
    per_page=any_text,
    par_page=any_text,
    use_valid_token=st.booleans(),
    token=any_text,
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_feed_fields_take_any_string_without_server_errors(
    endpoint, page, per_page, par_page, use_valid_token, token
):
    StoreFactory()
    if not feed_token_exists():
        feed_token_create(name="fuzz", token=TOKEN)
    data = {
        "token": TOKEN if use_valid_token else token,
        "page": page,
        "per_page": per_page,
        "par_page": par_page,
    }
    data = {k: v.replace("\x00", "") for k, v in data.items()}
    response = Client().post(f"/convertedin/{endpoint}", data)
    _validate(endpoint, response)
    as_json = Client().post(f"/convertedin/{endpoint}", data, content_type="application/json")
    _validate(endpoint, as_json)


def feed_token_exists() -> bool:
    from feeds.models import FeedToken

    return FeedToken.objects.exists()
