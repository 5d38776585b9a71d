"""Clients generated from the live OpenAPI schema, at the generators' default settings, work
against the live API without edits: openapi-python-client's client (walks, syncs, writes and
errors), datamodel-code-generator's pydantic models (every real answer validates) and
openapi-typescript's types (real answers type-check with tsc)."""

import datetime as dt
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest
import requests

from tests.factories import CustomerFactory, OrderFactory, ProductFactory

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NODE_BIN = ROOT / "node_modules" / ".bin"
PACKAGE = "store_rest_api_client"  # from the schema's title
GENERATE_TIMEOUT = 120


def run(*command, cwd: Path) -> subprocess.CompletedProcess:
    """Run a generator as an integrator would; its own post-hooks (ruff) are on the PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def schema_file(live_server, django_db_setup, django_db_blocker, tmp_path_factory) -> Path:
    with django_db_blocker.unblock():
        response = requests.get(
            f"{live_server.url}/api/schema/",
            headers={"Accept": "application/vnd.oai.openapi+json"},
            timeout=30,
        )
    assert response.status_code == 200
    path = tmp_path_factory.mktemp("schema") / "schema.json"
    path.write_bytes(response.content)
    return path


@pytest.fixture(scope="module")
def client_package(schema_file, tmp_path_factory):
    """openapi-python-client's client, generated at its default settings and imported."""
    out = tmp_path_factory.mktemp("python-client")
    done = run(
        BIN / "openapi-python-client",
        "generate",
        "--path",
        schema_file,
        "--output-path",
        out / "client",
        cwd=out,
    )
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(out / "client"))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out / "client"))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def pydantic_models(schema_file, tmp_path_factory):
    """datamodel-code-generator's pydantic v2 models, at its default settings otherwise."""
    out = tmp_path_factory.mktemp("pydantic-models")
    done = run(
        BIN / "datamodel-codegen",
        "--input",
        schema_file,
        "--input-file-type",
        "openapi",
        "--output-model-type",
        "pydantic_v2.BaseModel",
        "--output",
        out / "store_models.py",
        cwd=out,
    )
    # It warns when it had to number class names (Links1, Links2 ...) for clashing titles.
    assert "numbered collisions" not in done.stderr, done.stderr
    spec = importlib.util.spec_from_file_location("store_models", out / "store_models.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["store_models"] = module  # pydantic resolves the models' names through it
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["store_models"]


@pytest.fixture
def py(client_package, live_server, make_key):
    """The generated package's modules and a client holding a key with every scope."""
    client = client_package.AuthenticatedClient(base_url=live_server.url, token=make_key())

    class Py:
        models = importlib.import_module(f"{PACKAGE}.models")

        @staticmethod
        def call(operation: str, *args, **kwargs):
            """`orders_list` is PACKAGE.api.orders.orders_list.sync_detailed."""
            resource = operation.split("_")[0]
            module = importlib.import_module(f"{PACKAGE}.api.{resource}.{operation}")
            return module.sync_detailed(*args, client=client, **kwargs)

    with client:
        Py.client = client
        yield Py


def cursor_walk(py, operation: str, cursor: str = "", **query) -> tuple[list, str]:
    """Every record of a cursor walk from `cursor` (empty: the start), and the cursor to store
    at its end (meta.next_cursor)."""
    records = []
    pages = 0
    while True:
        response = py.call(operation, cursor=cursor, per_page=2, **query)
        assert response.status_code == 200, response.content
        page = response.parsed
        assert type(page).__name__.endswith("CursorPage"), type(page)
        records.extend(page.data)
        cursor = page.meta.next_cursor
        pages += 1
        assert pages < 50
        if page.links.next_ is None:  # `next` shadows a builtin: the client says next_
            return records, cursor
        # links.next carries the same cursor as meta.next_cursor.
        assert f"cursor={cursor}" in page.links.next_


def test_a_cursor_walk_lists_every_order_and_customer_exactly_once(py, store):
    orders = [OrderFactory(items=2) for _ in range(5)]
    customers = [order.customer for order in orders] + CustomerFactory.create_batch(2)

    listed_orders, _ = cursor_walk(py, "orders_list")
    listed_customers, _ = cursor_walk(py, "customers_list")

    # Sorted lists, so a record listed twice or never fails.
    assert sorted(o.id for o in listed_orders) == sorted(o.pk for o in orders)
    assert sorted(c.id for c in listed_customers) == sorted(c.pk for c in customers)
    assert all(len(order.line_items) == 2 for order in listed_orders)
    assert all(c.deleted_at is None for c in listed_customers)


def test_an_incremental_sync_from_a_stored_cursor_gets_only_the_change(py, store):
    customers = CustomerFactory.create_batch(5)
    since = dt.date(2000, 1, 1)
    first, stored = cursor_walk(py, "customers_list", updated_after=since)
    assert sorted(c.id for c in first) == sorted(c.pk for c in customers)
    assert stored.startswith("u")

    body = py.models.PatchedCustomerInputRequest(first_name="Changed")
    assert py.call("customers_partial_update", customers[2].pk, body=body).status_code == 200
    changed, stored_again = cursor_walk(py, "customers_list", updated_after=since, cursor=stored)

    assert [(c.id, c.first_name) for c in changed] == [(customers[2].pk, "Changed")]
    assert stored_again != stored
    assert cursor_walk(py, "customers_list", cursor=stored_again)[0] == []


def test_a_customer_is_created_updated_deleted_and_restored(py, store):
    m = py.models
    created = py.call(
        "customers_create",
        body=m.CustomerInputRequest(email="ann@example.com", first_name="Ann", last_name="Lee"),
    )
    assert created.status_code == 201
    customer = created.parsed
    assert isinstance(customer, m.Customer)
    assert (customer.email, customer.deleted_at, customer.first_order_at) == (
        "ann@example.com",
        None,
        None,
    )

    replaced = py.call(
        "customers_update",
        customer.id,
        body=m.CustomerInputRequest(email="ann@example.com", first_name="Anne", last_name="Lee"),
    )
    assert (replaced.status_code, replaced.parsed.first_name) == (200, "Anne")
    patched = py.call(
        "customers_partial_update",
        customer.id,
        body=m.PatchedCustomerInputRequest(gender=m.GenderEnum.FEMALE),
    )
    assert patched.parsed.gender == m.GenderEnum.FEMALE

    assert py.call("customers_destroy", customer.id).status_code == 204
    gone = py.call("customers_retrieve", customer.id)
    assert (gone.status_code, type(gone.parsed)) == (404, m.Error)
    restored = py.call("customers_restore", customer.id)
    assert (restored.status_code, restored.parsed.deleted_at) == (200, None)
    assert py.call("customers_retrieve", customer.id).parsed.to_dict() == (
        restored.parsed.to_dict()
    )


def test_an_order_with_line_items_is_created_updated_deleted_and_restored(py, store):
    m = py.models
    customer = CustomerFactory(currency="USD")
    shirt, mug = ProductFactory(price="20.00"), ProductFactory(price="7.25")
    created = py.call(
        "orders_create",
        body=m.OrderInputRequest(
            customer=customer.pk,
            financial_status=m.FinancialStatusEnum.SUCCESSFUL,
            total_tax="3.00",
            line_items=[
                m.LineItemInputRequest(product=shirt.pk, quantity=2),
                m.LineItemInputRequest(product=mug.pk, quantity=1, price=5.0),
            ],
        ),
    )
    assert created.status_code == 201, created.content
    order = created.parsed
    assert isinstance(order, m.Order)
    assert (order.currency, order.total_price) == (m.CurrencyEnum.USD, 48.0)
    assert [(li.product, li.quantity, li.price) for li in order.line_items] == [
        (shirt.pk, 2, 20.0),
        (mug.pk, 1, 5.0),
    ]

    patched = py.call(
        "orders_partial_update",
        order.id,
        body=m.PatchedOrderInputRequest(
            line_items=[m.LineItemInputRequest(product=mug.pk, quantity=4)]
        ),
    )
    assert patched.status_code == 200
    assert [(li.product, li.quantity) for li in patched.parsed.line_items] == [(mug.pk, 4)]
    replaced = py.call(
        "orders_update",
        order.id,
        body=m.OrderInputRequest(
            customer=customer.pk, line_items=[m.LineItemInputRequest(product=shirt.pk, quantity=1)]
        ),
    )
    assert (replaced.status_code, replaced.parsed.subtotal_price) == (200, 20.0)

    assert py.call("orders_destroy", order.id).status_code == 204
    assert py.call("orders_retrieve", order.id).status_code == 404
    restored = py.call("orders_restore", order.id)
    assert (restored.status_code, restored.parsed.deleted_at) == (200, None)
    assert [li.quantity for li in restored.parsed.line_items] == [1]


def test_a_400_and_a_409_parse_as_the_error_model(py, store):
    m = py.models
    CustomerFactory(email="taken@example.com")
    bad = py.call(
        "customers_create",
        body=m.CustomerInputRequest(email="not an email", first_name="A", last_name="B"),
    )
    assert bad.status_code == 400
    assert isinstance(bad.parsed, m.Error)
    assert (bad.parsed.status, bad.parsed.code) == (400, "invalid")
    assert "email" in bad.parsed.errors.to_dict()

    clash = py.call(
        "customers_create",
        body=m.CustomerInputRequest(email="TAKEN@example.com", first_name="A", last_name="B"),
    )
    assert clash.status_code == 409
    assert isinstance(clash.parsed, m.Error)
    assert clash.parsed.status == 409
    assert "email" in clash.parsed.errors.to_dict()

    # A bad query parameter too: the generated client sends what the schema allows, so the
    # bad value goes through its httpx client.
    raw = py.client.get_httpx_client().get("/api/v1/orders", params={"per_page": "0"})
    assert raw.status_code == 400
    assert "per_page" in m.Error.from_dict(raw.json()).errors.to_dict()


def answers(live_server, key: str) -> dict:
    """Real answers of the API, each with the component it is documented as: each list in
    both page styles (the cursor pages since 2000 list a deleted order too), details, errors."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    def get(path: str, **params):
        response = session.get(f"{live_server.url}/api/v1/{path}", params=params, timeout=30)
        return response.json()

    kept, deleted = OrderFactory(items=2), OrderFactory(items=1)
    assert session.delete(f"{live_server.url}/api/v1/orders/{deleted.pk}").status_code == 204
    CustomerFactory()  # one with no order: no first_order_at
    found = {}
    for resource, model in (
        ("customers", "Customer"),
        ("orders", "Order"),
        ("products", "Product"),
        ("categories", "Category"),
    ):
        page = f"Paginated{model}List"
        found[f"{resource} numbered"] = (page, get(resource))
        found[f"{resource} cursor"] = (page, get(resource, cursor="", updated_after="2000-01-01"))
    found["order"] = ("Order", get(f"orders/{kept.pk}"))
    found["customer"] = ("Customer", get(f"customers/{kept.customer_id}"))
    found["404"] = ("Error", get("orders/999999"))
    found["400"] = ("Error", get("orders", per_page="0"))
    deleted_at = [o["deleted_at"] for o in found["orders cursor"][1]["data"]]
    assert None in deleted_at, "a live order"
    assert any(deleted_at), "a deleted order"
    first_order_at = [c["first_order_at"] for c in found["customers numbered"][1]["data"]]
    assert None in first_order_at, "a customer without orders"
    assert any(first_order_at), "a customer with orders"
    return found


def test_real_answers_validate_against_the_generated_pydantic_models(
    pydantic_models, live_server, make_key, store
):
    found = answers(live_server, make_key())
    for name, (model, body) in found.items():
        parsed = getattr(pydantic_models, model).model_validate(body)
        if model.startswith("Paginated"):
            style = "CursorPage" if name.endswith("cursor") else "NumberedPage"
            assert type(parsed.root).__name__ == model[len("Paginated") : -len("List")] + style
            assert parsed.root.data, name
    # The models are no looser than the answers: a null where none may be is refused.
    customer = found["customer"][1]
    with pytest.raises(pydantic.ValidationError, match="updated_at"):
        pydantic_models.Customer.model_validate({**customer, "updated_at": None})


def test_real_answers_type_check_against_openapi_typescript_types(
    schema_file, live_server, make_key, store, tmp_path
):
    for tool in ("openapi-typescript", "tsc"):
        assert (NODE_BIN / tool).exists(), f"{NODE_BIN / tool} is missing: run `npm ci`."
    run(
        NODE_BIN / "openapi-typescript",
        schema_file,
        "--output",
        tmp_path / "schema.d.ts",
        cwd=tmp_path,
    )
    lines = ['import type { components } from "./schema";', "type S = components['schemas'];"]
    for number, (model, body) in enumerate(answers(live_server, make_key()).values()):
        lines.append(f"export const answer{number}: S[{json.dumps(model)}] = {json.dumps(body)};")
    lines += [
        # What a sync keeps: the cursor of a cursor page (a numbered page has none).
        "export function storedCursor(page: S['PaginatedOrderList']): string | null {",
        "  return 'next_cursor' in page.meta ? (page.meta.next_cursor ?? null) : null;",
        "}",
        "export const deletedAt: S['Customer']['deleted_at'] = null;",
    ]
    (tmp_path / "check.ts").write_text("\n".join(lines) + "\n")
    run(NODE_BIN / "tsc", "--noEmit", "--strict", "check.ts", cwd=tmp_path)
    # The check is not vacuous: a wrong type in an answer is refused.
    (tmp_path / "bad.ts").write_text(
        'import type { components } from "./schema";\n'
        "export const bad: components['schemas']['Customer']['orders_count'] = 'many';\n"
    )
    refused = subprocess.run(
        [str(NODE_BIN / "tsc"), "--noEmit", "--strict", "bad.ts"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GENERATE_TIMEOUT,
        check=False,
    )
    assert refused.returncode != 0
    assert re.search(r"TS2322", refused.stdout), refused.stdout
