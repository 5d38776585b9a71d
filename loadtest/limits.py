"""Bursts of concurrent clients against the rate limits of a real server, on loopback only.

As a script it measures the REST API's key rate: a fresh SQLite database in a temporary
directory, one key limited to --limit requests a minute, --clients concurrent requests against
runserver or gunicorn (4 workers), and one line: "passed X of N against limit L". `--root`
runs the app of another checkout, e.g. an older commit:

    python -m loadtest.limits --server gunicorn --root /tmp/old-checkout

With --redis-url, runs within one minute share their count: each fresh database's key is
number 1. tests/core/test_limits_live.py uses the same helpers. Every request has a timeout
and every wait a deadline.
"""

import argparse
import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 30.0

SETUP_KEYS = """
import json
from shop.api.services import api_key_create
from shop.models import Store
Store.load()
keys = [
    api_key_create(name=f"limits {{n}}", scopes=["customers.read"], rate_limit={limit})[1]
    for n in range({keys})
]
print(json.dumps(keys))
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def django_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of the app's processes: test settings, the given database, and no
    REDIS_URL of the caller's (it would move the cache)."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "RATELIMIT_REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url)
    env.update(extra)
    return env


def manage(root: Path, env: dict[str, str], *args: str, code: str | None = None) -> str:
    """Run `manage.py ARGS` (or Python `code` with Django set up) in `root`; return stdout."""
    if code is not None:
        command = [sys.executable, "-c", f"import django\ndjango.setup()\n{code}"]
    else:
        command = [sys.executable, "manage.py", *args]
    result = subprocess.run(
        command, cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command[1:3]} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def create_keys(root: Path, env: dict[str, str], *, count: int, limit: int) -> list[str]:
    return json.loads(manage(root, env, code=SETUP_KEYS.format(keys=count, limit=limit)))


def call(
    port: int, method: str, path: str, *, body: str | None = None, headers: dict | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request on its own connection; return status, headers (lower-cased names; each
    Set-Cookie value kept under "set-cookie" as a list) and body."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        answer_headers: dict = {name.lower(): value for name, value in response.getheaders()}
        answer_headers["set-cookie"] = response.msg.get_all("Set-Cookie") or []
        return response.status, answer_headers, response.read()
    finally:
        connection.close()


def burst(clients: int, one: Callable[[int], tuple]) -> list[tuple]:
    """Run `one(n)` for n in range(clients), all at once from as many threads."""
    start = threading.Barrier(clients, timeout=REQUEST_TIMEOUT)

    def run(n: int) -> tuple:
        start.wait()
        return one(n)

    with ThreadPoolExecutor(max_workers=clients) as pool:
        return list(pool.map(run, range(clients), timeout=REQUEST_TIMEOUT * 2))


def statuses(answers: list[tuple]) -> Counter:
    return Counter(answer[0] for answer in answers)


def fresh_window(window: int, need: float) -> None:
    """Wait (at most `need` seconds) until `need` seconds of the fixed window are left, so a
    burst is counted in one window."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.05)


@contextlib.contextmanager
def server(
    kind: str, root: Path, env: dict[str, str], *, workers: int = 4, threads: int = 4
) -> Iterator[int]:
    """Serve the app of `root` with runserver (threaded) or gunicorn (`workers` processes of
    `threads` threads); yield its port once /healthz answers.

    runserver listens with a backlog of 10: beyond about 10 concurrent POSTs some are reset
    before they are read, so bursts of POSTs go to gunicorn.
    """
    port = free_port()
    if kind == "runserver":
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
        env = {**env}
    elif kind == "gunicorn":
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        command = [gunicorn, "-c", "config/gunicorn.py", "config.wsgi"]
        env = {
            **env,
            "BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_TIMEOUT": "60",
        }
    else:
        raise ValueError(kind)
    process = subprocess.Popen(
        command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} stopped with {process.returncode}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if call(port, "GET", "/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} did not answer within 60 s")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def api_burst(port: int, key: str, clients: int) -> list[tuple]:
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    return burst(clients, lambda n: call(port, "GET", "/api/v1/customers", headers=headers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=["runserver", "gunicorn"], default="runserver")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to serve")
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--redis-url", default="", help="count in this Redis (RATELIMIT_REDIS_URL)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = django_env(f"sqlite:///{tmp}/db.sqlite3", RATELIMIT_REDIS_URL=args.redis_url)
        manage(args.root, env, "migrate", "-v0")
        (key,) = create_keys(args.root, env, count=1, limit=args.limit)
        with server(args.server, args.root, env, workers=args.workers) as port:
            fresh_window(60, 20)
            answers = api_burst(port, key, args.clients)
    passed = statuses(answers)[200]
    print(
        f"{args.server}: passed {passed} of {args.clients} against limit {args.limit} "
        f"(statuses {dict(sorted(statuses(answers).items()))})"
    )


if __name__ == "__main__":
    main()
