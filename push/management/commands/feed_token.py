"""Add, list and revoke converted.in's tokens from a shell.

Here rather than in feeds/ because adding a token also keeps the copy pushes carry
(push.tokens.convertedin_token_add), and feeds does not import push.
"""

import getpass
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from feeds.models import FeedToken
from feeds.tokens import feed_token_revoke
from push.tokens import convertedin_token_add
from shop.management.actions import ActionCommand


class Command(ActionCommand):
    help = "Manage the tokens converted.in sends to the feed (stored as keyed hashes)."

    def add_actions(self, actions):
        add = actions.add_parser("add", help="Register a token converted.in gave the merchant.")
        add.add_argument("--name", required=True)
        add.add_argument("--token", help="The token; prompted for (not echoed) when left out.")
        actions.add_parser("list", help="List tokens by hint, never the token itself.")
        revoke = actions.add_parser("revoke", help="Revoke a token by its id.")
        revoke.add_argument("id", type=int)

    def handle_add(self, *, name, token=None, **options):
        if not token:
            if not sys.stdin.isatty():
                raise CommandError("Give the token with --token: there is no terminal to ask on.")
            token = getpass.getpass("Token: ")
        try:
            row = convertedin_token_add(name=name, token=token)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Added token {row.pk} (…{row.hint})."))

    def handle_list(self, **options):
        for row in FeedToken.objects.order_by("id"):
            state = "active" if row.is_active else f"revoked {row.revoked_at:%Y-%m-%d %H:%M}"
            used = f"{row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "never"
            self.stdout.write(f"{row.pk}\t{row.name}\t…{row.hint}\tlast used {used}\t{state}")

    def handle_revoke(self, **options):
        try:
            row = FeedToken.objects.get(pk=options["id"])
        except FeedToken.DoesNotExist as exc:
            raise CommandError(f"No token with id {options['id']}.") from exc
        feed_token_revoke(token=row)
        self.stdout.write(self.style.SUCCESS(f"Revoked token {row.pk} (…{row.hint})."))
