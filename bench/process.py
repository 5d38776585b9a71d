"""A measurement runs in a process of its own on one database: flags in, JSON out."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .databases import ROOT, SETTINGS


def run_measurement(module: str, database_url: str, repeat: int, *flags: str) -> dict:
    """Run `python -m <module>` on the database with the flags; return what it measured."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = handle.name
    command = [sys.executable, "-m", module, "--out", out, "--repeat", str(repeat), *flags]
    env = {**os.environ, "DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": SETTINGS}
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    result = json.loads(Path(out).read_text())
    Path(out).unlink()
    return result


def measurement_arguments(*flags: str) -> argparse.Namespace:
    """Parse a measuring process's arguments: --out (the JSON file), --repeat, and `flags`
    that are on or off."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--repeat", type=int, default=15)
    for flag in flags:
        parser.add_argument(flag, action="store_true")
    return parser.parse_args()
