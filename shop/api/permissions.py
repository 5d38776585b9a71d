"""Who may do what: API keys by scope, staff by their Django model permissions."""

from rest_framework.permissions import SAFE_METHODS, DjangoModelPermissions

from .models import ApiKey


def _needs(action: str) -> list[str]:
    return [f"%(app_label)s.{action}_%(model_name)s"]


class ScopeOrModelPermission(DjangoModelPermissions):
    """An API key needs `<resource>.read` to read and `<resource>.write` to write; a
    logged-in staff member needs the model permission of the method (view to read)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": _needs("view"),
        "HEAD": _needs("view"),
        "OPTIONS": _needs("view"),
    }

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            scope = f"{view.scope_resource}.{'read' if request.method in SAFE_METHODS else 'write'}"
            self.message = f"This API key lacks the {scope} scope."
            return scope in request.auth.scope_set
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            self.message = "Only staff members and API keys may use the API."
            return False
        model = view.get_queryset().model
        (permission,) = self.get_required_permissions(request.method, model)
        action = permission.partition(".")[2].partition("_")[0]
        self.message = f"You lack the permission to {action} {model._meta.verbose_name_plural}."
        return super().has_permission(request, view)


class RestorePermission(ScopeOrModelPermission):
    """Restoring undoes a delete, so staff need the delete permission."""

    perms_map = {**ScopeOrModelPermission.perms_map, "POST": _needs("delete")}


class NamedPermission(ScopeOrModelPermission):
    """One API key scope and named staff permissions, whatever the method (a subclass names
    them): for the routes that are neither a plain read nor a plain write."""

    scope = ""
    staff_permissions: tuple[str, ...] = ()
    refused = ""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            self.message = f"This API key lacks the {self.scope} scope."
            return self.scope in request.auth.scope_set
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            self.message = "Only staff members and API keys may use the API."
            return False
        self.message = self.refused
        return user.has_perms(self.staff_permissions)


class ErasePermission(NamedPermission):
    """Erasing is irreversible: its own scope, and staff its own permission."""

    scope = "customers.erase"
    staff_permissions = ("shop.erase_customer",)
    refused = "You lack the permission to erase customers."


class ExportPermission(NamedPermission):
    """A data export holds a customer's orders too: its own scope, and staff the view
    permissions of both."""

    scope = "customers.export"
    staff_permissions = ("shop.view_customer", "shop.view_order")
    refused = "You lack the permission to view customers and orders."
