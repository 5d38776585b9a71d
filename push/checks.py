"""Start-up checks of the push settings (run by every manage.py command, workers included)."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def deadline_within_claim(app_configs, **kwargs) -> list[Error]:
    """A push must end while its worker holds the claim, or a second worker may send it too."""
    deadline = settings.PUSH_DEADLINE_SECONDS
    lease = settings.PUSH_CLAIM_SECONDS
    if deadline > 0 and deadline * 2 <= lease:
        return []
    return [
        Error(
            f"PUSH_DEADLINE_SECONDS ({deadline:g}) must be above 0 and at most half of "
            f"PUSH_CLAIM_SECONDS ({lease:g}).",
            hint="Raise PUSH_CLAIM_SECONDS or lower PUSH_DEADLINE_SECONDS.",
            id="push.E001",
        )
    ]
