"""A management command whose first argument names an action (`api_key create|list|revoke`),
each run by its method handle_<action>."""

from django.core.management.base import BaseCommand


class ActionCommand(BaseCommand):
    def add_arguments(self, parser):
        self.add_actions(parser.add_subparsers(dest="action", required=True))

    def add_actions(self, actions) -> None:
        """Add a parser for each action to `actions` (argparse's subparsers)."""
        raise NotImplementedError

    def handle(self, *args, action: str, **options):
        getattr(self, f"handle_{action}")(**options)
