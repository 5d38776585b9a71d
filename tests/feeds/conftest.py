import json
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from django.test import Client

from feeds.tokens import feed_token_create

SCHEMAS = Path(__file__).resolve().parents[2] / "feeds" / "schemas"
TOKEN = "cvin-test-token-0123456789abcdef"


def _load(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


VALIDATORS = {
    name: _load(name)
    for name in ("storeinfo", "categories", "products", "customers", "orders", "error")
}


def check_body(endpoint: str, response) -> dict:
    """Validate a feed response against its schema; return the parsed body.

    Every number with a fraction in the feed is money: its text has at most 2 decimals.
    """
    assert response["Content-Type"] == "application/json"
    raw = response.content
    exact = json.loads(raw, parse_float=Decimal)
    floats = []

    def walk(node):
        if isinstance(node, Decimal):
            floats.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(exact)
    for number in floats:
        assert number.as_tuple().exponent >= -2, f"{number} is not exact to the cent"
        assert number != number.to_integral_value(), f"{number} should be an integer"
    body = json.loads(raw)
    name = endpoint if response.status_code == 200 else "error"
    assert name in VALIDATORS, f"a 200 from an unknown endpoint {endpoint!r}"
    VALIDATORS[name].validate(body)
    return body


class FeedClient:
    """POST to the feed the way converted.in does, validating every answer."""

    def __init__(self, token: str = TOKEN):
        self.client = Client()
        self.token = token

    def post(self, endpoint: str, data: dict | None = None, *, token=True, **kwargs):
        payload = dict(data or {})
        if token is True:
            payload["token"] = self.token
        elif token:
            payload["token"] = token
        response = self.client.post(f"/convertedin/{endpoint}", payload, **kwargs)
        check_body(endpoint, response)
        return response

    def page(self, endpoint: str, **data) -> dict:
        response = self.post(endpoint, data)
        assert response.status_code == 200, response.content
        return response.json()

    def crawl(self, endpoint: str, size_field: str = "per_page", per_page: int = 100, **data):
        """Yield every page from 1 to last_page, as a crawler walks them."""
        page = 1
        while True:
            body = self.page(endpoint, page=page, **{size_field: per_page}, **data)
            yield body
            if page >= body["last_page"]:
                return
            page += 1


@pytest.fixture
def feed_token(store):
    return feed_token_create(name="converted.in", token=TOKEN)


@pytest.fixture
def feed(feed_token):
    return FeedClient()


@pytest.fixture(autouse=True)
def _every_feed_response_is_validated(monkeypatch):
    """Validate every response any test client gets from /convertedin/ against its schema."""
    original = Client.request

    def request(self, **environ):
        response = original(self, **environ)
        path = environ.get("PATH_INFO", "")
        if path.startswith("/convertedin/") and environ.get("REQUEST_METHOD") != "HEAD":
            check_body(path.removeprefix("/convertedin/").strip("/") or "error", response)
        return response

    monkeypatch.setattr(Client, "request", request)
