"""Who may do what: API keys by scope, staff by their Django model permissions."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .models import ApiKey

STAFF_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def required_scope(view, method: str) -> str:
    return f"{view.scope_resource}.{'read' if method in SAFE_METHODS else 'write'}"


class HasScopeOrStaffPermission(BasePermission):
    """An API key needs `<resource>.read` to read and `<resource>.write` to write; a
    logged-in staff member needs the matching view/add/change/delete permission."""

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            scope = required_scope(view, request.method)
            self.message = f"This API key lacks the {scope} scope."
            return scope in request.auth.scope_set
        user = request.user
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            self.message = "Only staff members and API keys may use the API."
            return False
        action = "view" if request.method in SAFE_METHODS else STAFF_ACTIONS[request.method]
        action = getattr(view, "staff_actions", {}).get(request.method, action)
        model = view.model._meta
        self.message = f"You lack the permission to {action} {model.verbose_name_plural}."
        return user.has_perm(f"{model.app_label}.{action}_{model.model_name}")
