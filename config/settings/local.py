"""Settings for `make run` on a merchant's or developer's machine."""

from .base import *  # noqa: F403
from .base import BASE_DIR

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
