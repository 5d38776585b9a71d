"""Django code run in a subprocess, as a separate program on the same store would run it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_django(code: str, *, env: dict, timeout: float | None = None) -> str:
    """Run `code` after django.setup() with `env`; return the last line it printed."""
    script = f"import json, django\ndjango.setup()\n{code}"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return out.stdout.strip().splitlines()[-1]
