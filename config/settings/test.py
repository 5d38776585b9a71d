"""Settings for the test suite: fast hashing, in-memory email."""

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-secret-key-not-for-production"  # noqa: S105
FEED_TOKEN_HASH_KEY = "test-feed-token-key"
API_KEY_HASH_KEY = "test-api-key-key"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
PUSH_TOKEN_KEYS = ["mJ0u0bq3tM1mVt0bY9qZl7mXoT1Gzq2o7cJmA0pQy5k="]
# Short, unless a test's worker subprocess sets its own in the environment.
PUSH_CONNECT_TIMEOUT = env.float("PUSH_CONNECT_TIMEOUT", default=1.0)  # noqa: F405
PUSH_DEADLINE_SECONDS = env.float("PUSH_DEADLINE_SECONDS", default=1.0)  # noqa: F405
CONVERTEDIN_PUSH_RETRY_DELAYS = [
    float(s)
    for s in env.list("CONVERTEDIN_PUSH_RETRY_DELAYS", default=[10, 30])  # noqa: F405
]
WEBHOOK_ALLOW_PRIVATE_TARGETS = True
