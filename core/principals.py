"""Who calls with a secret rather than a login: the converted.in crawler, API clients."""


class MachineClient:
    """A caller authenticated by a secret (a feed token, an API key): not a Django user, and
    holding no model permission."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, label: str):
        self.label = label

    def __str__(self) -> str:
        return self.label

    def has_perm(self, perm, obj=None) -> bool:
        return False
