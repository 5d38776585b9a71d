"""Reading a feed request's body: multipart/form-data, urlencoded or JSON, the way converted.in
sends it; the answer is JSON whatever the request accepts."""

import json
from decimal import Decimal

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http.multipartparser import MultiPartParserError
from django.utils.datastructures import MultiValueDict
from django.utils.http import parse_header_parameters
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.negotiation import BaseContentNegotiation

from .exceptions import UNREADABLE, PayloadTooLarge


def _not_json(name: str):
    raise ValueError(f"{name} is not JSON.")


class FeedJSONParser(parsers.JSONParser):
    """A JSON object in UTF-8; an empty body holds no fields.

    Python's own parser, so that an integer of any size stays an integer (and page=10**30
    reads as a string of those digits does); a fraction stays a Decimal, which no page is.
    """

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        raw = stream.read()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw, parse_float=Decimal, parse_constant=_not_json)
        except (ValueError, RecursionError) as exc:
            raise ParseError("The request body is not valid UTF-8 JSON.") from exc
        if not isinstance(data, dict):
            raise ParseError("The JSON body must be an object.")
        return data


class _Unreadable:
    """Answer a body Django refuses to parse with the feed's 413 or 400, not a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RequestDataTooBig as exc:
            raise PayloadTooLarge from exc
        except (ParseError, SuspiciousOperation, MultiPartParserError, UnicodeDecodeError) as exc:
            raise ParseError(UNREADABLE) from exc


class FeedFormParser(_Unreadable, parsers.FormParser):
    pass


class FeedMultiPartParser(_Unreadable, parsers.MultiPartParser):
    """Form fields only: the feed takes no files, so file parts are left out of the data."""

    def parse(self, stream, media_type=None, parser_context=None) -> parsers.DataAndFiles:
        parsed = super().parse(stream, media_type, parser_context)
        for _field, uploads in parsed.files.lists():
            for upload in uploads:
                upload.close()
        return parsers.DataAndFiles(parsed.data, MultiValueDict())


class FeedContentNegotiation(BaseContentNegotiation):
    """Pick the parser by the body's media type (any `+json` type is JSON); always answer
    with the view's one renderer, as converted.in expects JSON whatever it accepts."""

    def select_parser(self, request, parsers):
        media_type = parse_header_parameters(request.content_type)[0]
        if media_type.endswith("+json"):
            media_type = "application/json"
        for parser in parsers:
            if parser.media_type == media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
