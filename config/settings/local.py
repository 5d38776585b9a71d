"""Settings for `make run` on a merchant's or developer's machine."""

from typing import cast

from .base import *  # noqa: F403
from .base import BASE_DIR, LOGGING, env

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def _local_secret() -> str:
    """Return a secret kept in var/secret_key, created once per checkout."""
    import secrets

    path = BASE_DIR / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _local_secret()
FEED_TOKEN_HASH_KEY = SECRET_KEY
API_KEY_HASH_KEY = SECRET_KEY

# No push from a laptop reaches the real converted.in: they go to the app's own stand-in
# (push/receiver.py), whose last pushes staff read at /dev/convertedin/. Set
# CONVERTEDIN_WEBHOOK_URL to send them elsewhere (converted.in's is in base.py).
PUSH_LOCAL_RECEIVER = True
CONVERTEDIN_WEBHOOK_URL = env.str(
    "CONVERTEDIN_WEBHOOK_URL",
    default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}/dev/convertedin/",
)
cast(dict, LOGGING["loggers"])["push.receiver"] = {"level": "INFO"}
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
