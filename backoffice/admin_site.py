"""The admin site: its sidebar and index list the staff pages that are not a model's list (the
converted.in connection page, the push log, the data quality report), mark the one entry the
page belongs to, and show the technical models only to superusers and the "System" group."""

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate
from django.urls import NoReverseMatch, reverse

SYSTEM_GROUP = "System"

# Models that only the people running the site need: the worker's task results, and the
# machinery's own rows should they ever be registered (outbox, limits, idempotency records).
TECHNICAL_MODELS = {
    "django_tasks_database.dbtaskresult",
    "push.pushevent",
    "push.pushstate",
    "core.ratelimitcount",
    "api.idempotentrequest",
}


def is_system_user(user) -> bool:
    """A superuser or a member of the System group (read once a request)."""
    if not user.is_active or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    if not hasattr(user, "_system_member"):
        user._system_member = user.groups.filter(name=SYSTEM_GROUP).exists()
    return user._system_member


class SystemOnlyMixin:
    """A technical model's admin: nothing of it for anyone but the system's users."""

    def has_module_permission(self, request):
        return super().has_module_permission(request) and is_system_user(request.user)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and is_system_user(request.user)

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request, *args) and is_system_user(request.user)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and is_system_user(request.user)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and is_system_user(request.user)


@dataclass(frozen=True)
class PageEntry:
    """A staff page listed in an app's group of the sidebar, for users with any of `perms`."""

    app_label: str
    name: str
    object_name: str
    url_name: str
    perms: tuple[str, ...]


PAGES = [
    PageEntry(
        "feeds",
        "Connection",
        "ConnectionPage",
        "feeds-connection:page",
        ("feeds.view_feedtoken", "feeds.view_feedrequest"),
    ),
    PageEntry("feeds", "Push log", "PushLog", "push:log", ("push.view_pushevent",)),
    PageEntry(
        "shop",
        "Data quality",
        "DataQuality",
        "admin:shop_quality",
        tuple(f"shop.view_{m}" for m in ("customer", "order", "product", "category")),
    ),
]


class StoreAdminSite(admin.AdminSite):
    site_header = "Store admin"
    site_title = "Store admin"
    index_title = "Dashboard"

    def register(self, model_or_iterable, admin_class=None, **options):
        models = [model_or_iterable] if hasattr(model_or_iterable, "_meta") else model_or_iterable
        for model in models:
            model_admin = admin_class or admin.ModelAdmin
            if model._meta.label_lower in TECHNICAL_MODELS:
                model_admin = type(
                    f"SystemOnly{model_admin.__name__}", (SystemOnlyMixin, model_admin), {}
                )
            super().register(model, model_admin, **options)

    def get_app_list(self, request, app_label=None):
        app_list = super().get_app_list(request, app_label)
        apps = {app["app_label"]: app for app in app_list}
        for page in PAGES:
            if app_label not in (None, page.app_label):
                continue
            if not any(request.user.has_perm(perm) for perm in page.perms):
                continue
            app = apps.get(page.app_label)
            if app is None:
                app = apps[page.app_label] = self._empty_app(page.app_label)
                app_list.append(app)
            app["models"].append(
                {
                    "name": page.name,
                    "object_name": page.object_name,
                    "perms": {"view": True},
                    "admin_url": reverse(page.url_name),
                    "add_url": None,
                    "view_only": True,
                }
            )
        for app in app_list:
            app["models"].sort(key=lambda entry: entry["name"])
        app_list.sort(key=lambda app: app["name"].lower())
        _mark_current(app_list, request.path)
        return app_list

    def _empty_app(self, label: str) -> dict:
        from django.apps import apps

        try:
            app_url = reverse("admin:app_list", kwargs={"app_label": label})
        except NoReverseMatch:
            app_url = ""
        return {
            "name": apps.get_app_config(label).verbose_name,
            "app_label": label,
            "app_url": app_url,
            "has_module_perms": True,
            "models": [],
        }


def _mark_current(app_list: list[dict], path: str) -> None:
    """Mark the entry whose address is the longest start of the page's (the quality report at
    /admin/shop/store/quality/ is its own entry, not the store's)."""
    entries = [entry for app in app_list for entry in app["models"] if entry.get("admin_url")]
    matching = [entry for entry in entries if path.startswith(entry["admin_url"])]
    current = max(matching, key=lambda entry: len(entry["admin_url"]), default=None)
    for entry in entries:
        entry["current"] = entry is current


def ensure_system_group(**kwargs) -> None:
    from django.contrib.auth.models import Group

    Group.objects.get_or_create(name=SYSTEM_GROUP)


class StoreAdminConfig(AdminConfig):
    """django.contrib.admin with the store's site (INSTALLED_APPS names this instead)."""

    default_site = "backoffice.admin_site.StoreAdminSite"

    def ready(self):
        super().ready()
        post_migrate.connect(ensure_system_group, sender=self)
