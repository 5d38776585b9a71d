"""Every model's admin, registered when the admin's autodiscovery imports this package."""

from . import api, feeds, push, shop

__all__ = ["api", "feeds", "push", "shop"]
