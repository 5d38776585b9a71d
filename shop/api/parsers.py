"""The API reads JSON bodies only, within Django's upload limit."""

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from .exceptions import RequestTooLarge


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON.")


class LimitedJSONParser(JSONParser):
    """Parse strict JSON, refusing bodies over DATA_UPLOAD_MAX_MEMORY_SIZE with 413.

    DRF's own parser reads any length and accepts NaN; Django's limit applies only to
    form bodies.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(raw) > limit:
            raise RequestTooLarge()
        try:
            text = codecs.decode(raw, encoding)
            data = json.loads(text, parse_constant=_refuse_constant)
            # "\ud800" escapes decode to lone surrogates, which no database can store.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except (ValueError, UnicodeError, RecursionError, LookupError) as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
        return data
