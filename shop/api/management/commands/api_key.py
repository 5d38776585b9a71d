"""Create, list and revoke REST API keys: `manage.py api_key create --name ERP --scopes ...`."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.dateparse import parse_datetime

from shop.api.models import SCOPE_NAMES, ApiKey
from shop.api.services import api_key_create, api_key_revoke
from shop.management.actions import ActionCommand


class Command(ActionCommand):
    help = "Create, list or revoke API keys of the REST API."

    def add_actions(self, actions):
        create = actions.add_parser("create", help="Create a key and print it (only this once).")
        create.add_argument("--name", required=True)
        create.add_argument(
            "--scopes",
            required=True,
            help=f"Comma-separated, among: {', '.join(sorted(SCOPE_NAMES))}.",
        )
        create.add_argument("--expires-at", help="ISO 8601 date-time; never by default.")
        create.add_argument("--rate-limit", type=int, help="Requests per minute.")
        actions.add_parser("list", help="List keys (never their secret part).")
        revoke = actions.add_parser("revoke", help="Revoke a key by its prefix.")
        revoke.add_argument("prefix")

    def handle_create(self, *, name, scopes, expires_at=None, rate_limit=None, **options):
        expires = None
        if expires_at:
            expires = parse_datetime(expires_at)
            if expires is None or expires.tzinfo is None:
                raise CommandError("Give --expires-at as an ISO 8601 date-time with an offset.")
        scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
        try:
            api_key, raw = api_key_create(
                name=name, scopes=scope_list, expires_at=expires, rate_limit=rate_limit
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stderr.write(
            f"Created API key {api_key.prefix} ({', '.join(api_key.scopes)}). "
            "Store it now: it is not kept and won't be shown again."
        )
        self.stdout.write(raw)

    def handle_list(self, **options):
        for api_key in ApiKey.objects.order_by("id"):
            state = "usable" if api_key.is_usable else "revoked or expired"
            self.stdout.write(
                f"{api_key.prefix}\t{api_key.name}\t{','.join(api_key.scopes)}\t{state}\t"
                f"last used {api_key.last_used_at or 'never'}"
            )

    def handle_revoke(self, *, prefix, **options):
        api_key = ApiKey.objects.filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix {prefix}.")
        api_key_revoke(api_key=api_key)
        self.stdout.write(f"Revoked {api_key.prefix}.")
