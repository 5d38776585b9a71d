"""The benchmark's databases: a SQLite file and a throwaway PostgreSQL server, seeded once."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench"
PG_BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin"]
PG_PORT = int(os.environ.get("BENCH_PG_PORT", "55499"))
SETTINGS = "config.settings.test"


def manage(database_url: str, *args: str, capture: bool = False) -> str:
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return result.stdout or ""


def _count_orders(database_url: str) -> int:
    out = manage(
        database_url,
        "shell",
        "-c",
        "from shop.models import Order; print('ORDERS', Order.objects.count())",
        capture=True,
    )
    for line in out.splitlines():
        if line.startswith("ORDERS "):
            return int(line.split()[1])
    return -1


def ensure_seeded(database_url: str, *, orders: int, customers: int, reset) -> None:
    """Migrate, then seed unless the database already holds exactly `orders` orders."""
    manage(database_url, "migrate", "--noinput", "-v0")
    if _count_orders(database_url) == orders:
        print(f"  reusing the seeded database ({orders:,} orders)", flush=True)
        return
    reset()
    manage(database_url, "migrate", "--noinput", "-v0")
    started = time.perf_counter()
    manage(
        database_url,
        "seed_demo",
        "--orders",
        str(orders),
        "--customers",
        str(customers),
        "--seed",
        "1",
        "--no-progress",
    )
    print(f"  seeded in {time.perf_counter() - started:.0f} s", flush=True)


def sqlite_database(orders: int, customers: int) -> str:
    WORK.mkdir(exist_ok=True)
    path = WORK / f"sqlite-{orders}.sqlite3"
    url = f"sqlite:///{path}"

    def reset():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    ensure_seeded(url, orders=orders, customers=customers, reset=reset)
    return url


def postgres_bin() -> Path | None:
    for folder in PG_BIN_DIRS:
        if (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresServer:
    """A PostgreSQL server in .bench/pg (kept between runs so its data is reused)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.data = WORK / "pg"
        self.socket_dir = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.user = None
        if os.geteuid() == 0:
            # initdb refuses root: run the server as an unprivileged account.
            self.user = os.environ.get("BENCH_PG_USER", "nobody")
            shutil.chown(self.socket_dir, user=self.user)

    def _run(self, *args: str, **kwargs):
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, **kwargs)

    def start(self) -> None:
        WORK.mkdir(exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            if self.user:
                shutil.chown(self.data, user=self.user)
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                stdout=subprocess.DEVNULL,
            )
        options = (
            f"-p {PG_PORT} -k {self.socket_dir} -c listen_addresses='' "
            "-c shared_buffers=256MB -c synchronous_commit=on -c max_wal_size=4GB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.socket_dir / "log"),
            "-w",
            "start",
            stdout=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", stdout=subprocess.DEVNULL
        )
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def url(self, name: str) -> str:
        return f"postgres://postgres@/{name}?host={self.socket_dir}&port={PG_PORT}"

    def psql(self, sql: str, database: str = "postgres", **kwargs) -> None:
        self._run(
            "psql",
            "-q",
            "-h",
            str(self.socket_dir),
            "-p",
            str(PG_PORT),
            "-U",
            "postgres",
            "-d",
            database,
            "-c",
            sql,
            stdout=subprocess.DEVNULL,
            **kwargs,
        )

    def database(self, orders: int, customers: int) -> str:
        name = f"bench_{orders}"

        def reset():
            self.psql(f"DROP DATABASE IF EXISTS {name}")
            self.psql(f"CREATE DATABASE {name}")

        try:
            self.psql(f"CREATE DATABASE {name}", stderr=subprocess.DEVNULL)
        except subprocess.CalledProcessError:
            pass  # already there: reused when it holds the right number of orders
        url = self.url(name)
        ensure_seeded(url, orders=orders, customers=customers, reset=reset)
        # Fresh statistics and visibility map, as autovacuum would leave a live store.
        self.psql("VACUUM ANALYZE", database=name)
        return url


def server_version() -> str:
    """The version of the database Django is connected to (after django.setup())."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
        else:
            cursor.execute("SELECT sqlite_version()")
        return cursor.fetchone()[0].split()[0]
