"""Settings shared by every environment; secrets and the database come from the environment."""

import os
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


def env_secret(name: str, default: str = "") -> str:
    """Return a secret exactly as set: django-environ would take a leading `$`, which Django's
    generated keys may have, for a reference to another variable."""
    return env.ENVIRON.get(name, default)


SECRET_KEY = env_secret("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "backoffice.admin_site.StoreAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "django_countries",
    "config",
    "core",
    "shop",
    "shop.api.apps.ApiConfig",
    "feeds",
    "django_tasks",
    "django_tasks_db",
    "push",
    "backoffice",
]

MIDDLEWARE = [
    "core.middleware.RequestLogMiddleware",
    "shop.api.middleware.NoStoreMiddleware",
    "core.middleware.RefusePlainHttpMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "core.middleware.AdminLoginThrottleMiddleware",
    "backoffice.middleware.StoreTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# Widgets render through TEMPLATES, so templates/ may override Django's (labelled split
# date-time inputs, templates/admin/widgets/).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside a writer; the busy timeout makes writers queue, not fail.
    # secure_delete zeroes what a write removes, so an erased customer's values do not linger
    # in the file's free space (shop/erasure.py). The log file is cut back to 64 MB when it
    # starts over (a long write lets it grow: core.inserts.long_write).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
            "PRAGMA secure_delete=ON; PRAGMA journal_size_limit=67108864;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Django's cache, shared by every worker process: the database by default, Redis when
# REDIS_URL is set. (Rate limits keep their own counters: RATELIMIT_REDIS_URL below.)
if env.str("REDIS_URL", default=""):
    CACHES = {
        "default": env.cache_url("REDIS_URL", backend="django.core.cache.backends.redis.RedisCache")
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "cache_table",
        }
    }

# Rate limits (core.ratelimit) count each hit atomically: on Redis when this is set (by
# default REDIS_URL), else in the database (the core_ratelimitcount table, whose rows of ended
# windows are pruned on every RATELIMIT_PRUNE_EVERY-th new row).
RATELIMIT_REDIS_URL = env.str("RATELIMIT_REDIS_URL", default=env.str("REDIS_URL", default=""))
RATELIMIT_PRUNE_EVERY = env.int("RATELIMIT_PRUNE_EVERY", default=100)

# A REST API read whose statements run longer than this is stopped and answered 503.
API_QUERY_TIMEOUT_SECONDS = env.float("API_QUERY_TIMEOUT_SECONDS", default=10)
# On PostgreSQL an incremental sync stops this long before the start of the oldest write
# transaction still running (shop.api.selectors.sync_horizon): it covers the app servers'
# clocks against the database's and a stamp taken just before its transaction's first statement.
API_SYNC_CLOCK_MARGIN_SECONDS = env.float("API_SYNC_CLOCK_MARGIN_SECONDS", default=1.0)

# The upload limit: larger bodies are refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# converted.in feed tokens are stored as HMAC-SHA256 under this key.
FEED_TOKEN_HASH_KEY = env_secret("FEED_TOKEN_HASH_KEY")
# REST API keys are stored as HMAC-SHA256 under this key.
API_KEY_HASH_KEY = env_secret("API_KEY_HASH_KEY")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "COERCE_DECIMAL_TO_STRING": False,
    # Requests per minute of each API key (a key may set its own) and staff member.
    "DEFAULT_THROTTLE_RATES": {"api": "600/min"},
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Store REST API",
    "DESCRIPTION": "Customers, orders, products and categories of the store.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No deep links: each would be a link inside the operation's toggle button, two nested
    # controls a screen reader cannot tell apart.
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shop.api.schema.name_titled_objects",
        "shop.api.schema.answers_list_nullable_fields_as_optional",
        "shop.api.schema.forbid_unknown_request_fields",
        "shop.api.schema.document_query_conventions",
        "shop.api.schema.document_idempotency_keys",
    ],
}

# How many reverse proxies of ours stand in front of the app; X-Forwarded-For is trusted
# only that far. 0 (the default) means REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Wrong passwords the admin's login checks per username and per client address in a window.
ADMIN_LOGIN_FAILURES_PER_USER = env.int("ADMIN_LOGIN_FAILURES_PER_USER", default=5)
ADMIN_LOGIN_FAILURES_PER_ADDRESS = env.int("ADMIN_LOGIN_FAILURES_PER_ADDRESS", default=20)
ADMIN_LOGIN_WINDOW_SECONDS = env.int("ADMIN_LOGIN_WINDOW_SECONDS", default=300)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "core.middleware.JsonLinesFormatter"}},
    "filters": {"redact_feed_paths": {"()": "core.middleware.RedactFeedPaths"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        # Django's own loggers write once, as JSON: without this its default console handler
        # (on with DEBUG) prints each message again as text.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "request": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.server": {"handlers": [], "level": "ERROR", "propagate": False},
        "django.request": {"filters": ["redact_feed_paths"]},
    },
}

# Store admin imports and exports: importing needs the model's add (and change) permission,
# exporting its view permission; any staff member could do either without these.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
# Limits on an imported file (store admin): its size, what an XLSX unpacks to, its rows and
# the length of one cell. A larger file is refused before it is parsed.
# The worker checks and writes it in the background, so a file may hold a store's history: a
# million orders (an exported order is 150-400 bytes).
IMPORT_MAX_BYTES = 1_000_000_000
IMPORT_MAX_UNPACKED_BYTES = 2_000_000_000
IMPORT_MAX_ROWS = 1_000_000
IMPORT_MAX_CELL_CHARS = 32_767
# An import writes its rows this many to a transaction, once every row has passed its checks.
IMPORT_BATCH_ROWS = env.int("IMPORT_BATCH_ROWS", default=500)
# An import spreads its work over this many processes (forks of the worker): the preview of
# a customers, products or orders file checks its batches in them (each with its own
# database connection), and the write builds the next batches' rows there while the worker
# writes one. 1 does everything in the worker. Two by default, leaving other cores to the web.
IMPORT_PROCESSES = env.int("IMPORT_PROCESSES", default=min(2, os.cpu_count() or 1))
# Where an uploaded file waits for the worker until its import ends: private, never served
# (not under MEDIA_ROOT or STATIC_ROOT); shared by the web and worker processes.
IMPORT_DIR = Path(env.str("IMPORT_DIR", default=str(BASE_DIR / "var" / "imports")))

# The converted.in feed: wrong tokens a client address may send per minute before 429; the
# request log's limits (the database prunes it by these on every PRUNE_EVERY-th row); how
# often a token's last_used_at is written at most.
FEED_TOKEN_FAILURES_PER_MINUTE = env.int("FEED_TOKEN_FAILURES_PER_MINUTE", default=10)
FEED_REQUEST_LOG_KEEP_DAYS = env.int("FEED_REQUEST_LOG_KEEP_DAYS", default=30)
FEED_REQUEST_LOG_KEEP_ROWS = env.int("FEED_REQUEST_LOG_KEEP_ROWS", default=100_000)
FEED_REQUEST_LOG_PRUNE_EVERY = env.int("FEED_REQUEST_LOG_PRUNE_EVERY", default=500)
FEED_TOKEN_TOUCH_SECONDS = env.int("FEED_TOKEN_TOUCH_SECONDS", default=60)

# Content-Security-Policy on every answer: scripts, styles, images and requests from this site
# only; no plugin, no framing. Styles may be inline (the admin's and Swagger UI's widgets set
# style attributes); scripts may not. Swagger UI's start-up script is served as a file.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Pushing every change to converted.in (push/): the outbox is delivered by workers on Django's
# Tasks API, which start the push themselves (README, "Workers"). The tasks wait in the
# database (`manage.py db_worker`), or with TASKS_BACKEND=rq in Redis at TASKS_REDIS_URL
# (default REDIS_URL) for `manage.py rqworker --with-scheduler default` (django-tasks-rq).
TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")
if TASKS_BACKEND == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    _tasks_redis_url = env.str("TASKS_REDIS_URL", default=env.str("REDIS_URL", default=""))
    if not _tasks_redis_url:
        raise ImproperlyConfigured("TASKS_BACKEND=rq needs TASKS_REDIS_URL or REDIS_URL.")
    # RQ stops a job after DEFAULT_TIMEOUT seconds: the quality count may take long.
    RQ_QUEUES = {"default": {"URL": _tasks_redis_url, "DEFAULT_TIMEOUT": 3600}}
    # Workers run jobs as Tasks through django-tasks-rq's job class (no --job-class needed).
    RQ = {"JOB_CLASS": "django_tasks_rq.Job"}
elif TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ImproperlyConfigured(f"TASKS_BACKEND is 'database' or 'rq', not {TASKS_BACKEND!r}.")
# Where pushes go: {CONVERTEDIN_WEBHOOK_URL}{topic}. Local settings point it at the app's own
# stand-in (push/receiver.py, on only where PUSH_LOCAL_RECEIVER is) instead of converted.in.
CONVERTEDIN_DEFAULT_WEBHOOK_URL = "https://app.converted.in/api/webhooks/api/"
CONVERTEDIN_WEBHOOK_URL = env.str(
    "CONVERTEDIN_WEBHOOK_URL", default=CONVERTEDIN_DEFAULT_WEBHOOK_URL
)
PUSH_LOCAL_RECEIVER = False
# Seconds before each retry of a push (429, 5xx, network error, timeout); then it fails.
CONVERTEDIN_PUSH_RETRY_DELAYS: list[float] = [
    float(s)
    for s in env.list("CONVERTEDIN_PUSH_RETRY_DELAYS", default=[10, 30, 120, 600, 3600, 21600])
]
# One push, connect, answer and body together, ends by PUSH_DEADLINE_SECONDS whatever the
# receiver does; connecting alone may take PUSH_CONNECT_TIMEOUT of it. Of the answer at most
# PUSH_ANSWER_BYTES are read and kept.
PUSH_CONNECT_TIMEOUT = env.float("PUSH_CONNECT_TIMEOUT", default=5)
PUSH_DEADLINE_SECONDS = env.float("PUSH_DEADLINE_SECONDS", default=15)
PUSH_ANSWER_BYTES = env.int("PUSH_ANSWER_BYTES", default=4096)
# A claimed event whose worker died is claimed again after this many seconds. It must be at
# least twice PUSH_DEADLINE_SECONDS (checked at start: push.E001), so a push always ends while
# its worker holds the claim and no second worker sends the same record meanwhile.
PUSH_CLAIM_SECONDS = env.float("PUSH_CLAIM_SECONDS", default=60)
# One pump task runs this long, polling every PUSH_POLL_SECONDS when idle.
PUSH_PUMP_SECONDS = env.float("PUSH_PUMP_SECONDS", default=30)
PUSH_POLL_SECONDS = env.float("PUSH_POLL_SECONDS", default=0.2)
PUSH_KEEP_DAYS = env.int("PUSH_KEEP_DAYS", default=7)
# How long each record's history (shop/history.py) is kept; the push worker prunes older
# entries.
HISTORY_KEEP_DAYS = env.int("HISTORY_KEEP_DAYS", default=730)
# Changes due this long with none delivered meanwhile: /healthz and the connection page say
# that no worker is delivering.
PUSH_STALL_SECONDS = env.float("PUSH_STALL_SECONDS", default=180)
# The data quality report is counted by the worker: a run asked for longer ago than this and
# not computed yet is taken as lost (its worker stopped), and the page offers a new one.
QUALITY_RUN_SECONDS = env.int("QUALITY_RUN_SECONDS", default=3600)
# Fernet keys (comma-separated) the push token is encrypted under: the first encrypts.
PUSH_TOKEN_KEYS: list[str] = env.list("PUSH_TOKEN_KEYS", default=[])

# Webhooks for the store's own systems (push/webhooks.py). In production a target must be https
# and resolve to public addresses only; local and test settings allow http on loopback.
WEBHOOK_ALLOW_PRIVATE_TARGETS = False
# A subscriber whose every delivery has failed this long is disabled.
WEBHOOK_DISABLE_AFTER_SECONDS = env.float("WEBHOOK_DISABLE_AFTER_SECONDS", default=86400)
# Subscribers sent to at once by one worker, each in its own thread.
WEBHOOK_THREADS = env.int("WEBHOOK_THREADS", default=8)
