"""gunicorn settings; every value can be overridden from the environment."""

import multiprocessing
import os

import environ

env = environ.Env()

bind = env.str("BIND", default="127.0.0.1:8000")
workers = env.int("WEB_CONCURRENCY", default=multiprocessing.cpu_count() * 2 + 1)
# Threads, so a client that sends its body slowly ties up one thread, not a whole worker:
# the health check and other clients keep being answered.
worker_class = "gthread"
threads = env.int("GUNICORN_THREADS", default=4)
timeout = env.int("GUNICORN_TIMEOUT", default=60)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak can never take the app down.
max_requests = 5000
max_requests_jitter = 500
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The app writes its own JSON request log (core.middleware.RequestLogMiddleware), which
# never contains query strings; gunicorn's access log would.
accesslog = None
errorlog = "-"
loglevel = env.str("GUNICORN_LOGLEVEL", default="info")


def on_starting(server):
    """Run the system checks, the database's included, before any worker starts: Django runs
    none under WSGI, so a missing cache table or hash key would otherwise show only as errors
    on live requests."""
    import io
    import sys

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    import django
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.db import connections

    django.setup()
    try:
        call_command("check", databases=["default"], stdout=io.StringIO())
    except SystemCheckError as exc:
        sys.stderr.write(f"{exc}\n")
        raise SystemExit(1) from None
    finally:
        # The workers are forked from this process: they must not share its connection.
        connections.close_all()
