"""API keys sent as `Authorization: Bearer <key>`."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from core.principals import MachineClient

from .models import KEY_PREFIX, ApiKey, hash_key
from .services import api_key_record_use


class ApiKeyAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        try:
            parts = get_authorization_header(request).split()
        except UnicodeEncodeError as exc:
            # A header a WSGI server passes is Latin-1; text beyond it (a lone surrogate) can
            # only come from in-process callers, and is no key either.
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.") from exc
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: send `Bearer <API key>`."
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raw = ""
        api_key = None
        if raw.startswith(KEY_PREFIX):
            api_key = ApiKey.objects.usable().filter(key_hash=hash_key(raw)).first()
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked API key.")
        api_key_record_use(api_key=api_key)
        return MachineClient(f"API key {api_key.prefix}"), api_key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API key (`sk_store_...`) created in the admin or with "
                "`manage.py api_key create`, sent as `Authorization: Bearer <key>`."
            ),
        }
