"""Strict input fields of the REST API: each accepts exactly what its OpenAPI schema says.

DRF's fields coerce (123 to "123", 1 to True, "12" to 12) and trim before they check. These
refuse any JSON type but the schema's and check the value as sent against the schema's
pattern and maxLength, so a request the schema allows is accepted and one it forbids is
refused (tests/api/test_schema_contract.py tries each constraint; test_fuzzing.py runs
schemathesis' checks of both).

Patterns are written once, for both readers: ECMA-262 (the schema's) and Python's `re`
(run with fullmatch, so `$` never matches before a trailing newline). They spell out
character classes rather than use \\s, \\w or \\d, which the two read differently.
"""

import datetime as dt
import re
from decimal import Decimal

from django.core.validators import RegexValidator
from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from shop.validators import EARLIEST_DATE, LATEST_DATE

# What Python's str.strip() removes (str.isspace()), which DRF and the services strip.
SPACE = r"\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Any text without NUL (no database stores one); a required one has a character that
# stripping leaves.
TEXT = r"^[^\u0000]+$"
NON_BLANK_TEXT = rf"^[^\u0000]*[^\u0000{SPACE}][^\u0000]*$"

# Email addresses and URLs that Django's EmailValidator or URLValidator accepts and that are
# also the schema's `email` or `uri` format, written without lookarounds (which generators
# of test data cannot draw from): ASCII; an email's local part a dot-atom of up to 63
# characters; hosts of two to four labels, each up to 61 characters without "--" (which IDNA
# reserves), so never past DNS's 253; no user:password in a URL, whose path, query and
# fragment are RFC 3986's characters. Django accepts more (quoted local parts, IP literals,
# IPv6 and non-ASCII hosts, more labels): the schema, and so the API, does not.
_ATOM_CHAR = r"[-!#$%&'*+/=?^_`{}|~0-9A-Za-z]"
_LOCAL = rf"{_ATOM_CHAR}(?:\.?{_ATOM_CHAR}){{0,31}}"
_LABEL = r"[a-zA-Z0-9](?:-?[a-zA-Z0-9]){0,30}"
_TLD = r"[a-zA-Z](?:-?[a-zA-Z]){1,30}"
_HOST = rf"(?:{_LABEL}\.){{1,3}}{_TLD}"
EMAIL = rf"^{_LOCAL}@(?:{_HOST}|localhost)$"
_IPV4_PART = r"(?:0|25[0-5]|2[0-4][0-9]|1[0-9]?[0-9]?|[1-9][0-9]?)"
_PCHAR = r"(?:[-A-Za-z0-9._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
URL = (
    r"^(?:[hH][tT][tT][pP][sS]?|[fF][tT][pP][sS]?)://"
    rf"(?:{_IPV4_PART}(?:\.{_IPV4_PART}){{3}}|{_HOST}\.?|localhost)"
    rf"(?::[0-9]{{1,5}})?(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?$"
)
# Django's unicode slug (`^[-\w]+\Z`): Python's \w is exactly letters, numbers and "_".
SLUG_SCHEMA = r"^[\p{L}\p{N}_-]+$"


def _year_range(first: int, last: int) -> str:
    """A pattern of the years first..last (4 digits; first a multiple of 100, last + 1 of
    1000), e.g. 1900..8999: (19[0-9]{2}|[2-8][0-9]{3})."""
    assert first % 100 == 0
    assert (last + 1) % 1000 == 0
    assert first < 2000 <= last
    century, millennium = first // 100, (last + 1) // 1000 - 1
    centuries = "|".join(f"{c}[0-9]{{2}}" for c in range(century, 20))
    return f"(?:{centuries}|[2-{millennium}][0-9]{{3}})"


# A date-time as RFC 3339 writes it, in the years a store can show (shop.validators).
SHOWABLE_YEARS = _year_range(EARLIEST_DATE.year, LATEST_DATE.year - 1)
DATE_TIME = (
    r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<offset>[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
DATE = r"^(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})$"


# Year 0 is a leap year that no datetime holds; year 4 stands in for it while the rest of a
# date is checked.
YEAR_ZERO_STAND_IN = 4


def parse_date_time(text: str) -> dt.datetime | None:
    """An RFC 3339 date-time as an aware datetime; None if it is not one. A valid one in
    year 0 is None too: no datetime holds it."""
    match = re.fullmatch(DATE_TIME, text)
    if match is None:
        return None
    parts = match.groupdict()
    if parts["year"] == "0000":
        return None
    offset = parts["offset"].upper()
    try:
        if offset == "Z":
            zone = dt.UTC
        else:
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if minutes > 59:
                return None
            sign = -1 if offset[0] == "-" else 1
            zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
        return dt.datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"]),
            int((parts["fraction"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        )
    except ValueError:
        return None


def parse_date(text: str) -> dt.date | None:
    """An RFC 3339 full-date; None if it is not one."""
    match = re.fullmatch(DATE, text)
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def in_year_zero(text: str, pattern: str = DATE_TIME) -> bool:
    """Whether `text` is a valid date(-time) of year 0, which RFC 3339 allows and no Python
    date holds: it comes before every record."""
    if not text.startswith("0000-"):
        return False
    stand_in = f"{YEAR_ZERO_STAND_IN:04d}{text[4:]}"
    return (parse_date_time if pattern == DATE_TIME else parse_date)(stand_in) is not None


class StrictCharField(serializers.CharField):
    """A JSON string (not a number), no longer than max_length as sent and matching
    `pattern` (its non-blank values; a blank one is the field's allow_blank to decide)."""

    default_error_messages = {
        "invalid": "Not a valid string.",
        "pattern": "Enter a valid value.",
    }

    def __init__(self, *, pattern: str = TEXT, schema_pattern: str | None = None, **kwargs):
        self.pattern = pattern
        self.schema_pattern = schema_pattern or pattern
        super().__init__(**kwargs)

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty and data is not None and not isinstance(data, str):
            self.fail("invalid")
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        if self.pattern and not re.fullmatch(self.pattern, data):
            self.fail("pattern")
        return super().to_internal_value(data)


class StrictEmailField(StrictCharField, serializers.EmailField):
    default_error_messages = {"pattern": "Enter a valid email address."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(pattern=EMAIL, **kwargs)


class StrictURLField(StrictCharField, serializers.URLField):
    default_error_messages = {"pattern": "Enter a valid URL (http, https, ftp or ftps)."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(pattern=URL, **kwargs)


class StrictSlugField(StrictCharField, serializers.SlugField):
    """Letters, numbers, "_" and "-" of any script; checked by the slug's own validator."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(pattern="", schema_pattern=SLUG_SCHEMA, **kwargs)


def regex_pattern(validator: RegexValidator) -> str:
    """A model RegexValidator's pattern, anchored as the schema reads it."""
    regex = validator.regex
    pattern = regex if isinstance(regex, str) else regex.pattern
    assert pattern.startswith("^"), pattern
    assert pattern.endswith("$"), pattern
    return pattern


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: not a string, a float or a boolean."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false: not 1, 0 or a string."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class MoneyField(serializers.DecimalField):
    """An amount as a JSON number, or a string of digits with up to two decimals."""

    default_error_messages = {
        "invalid": 'Enter an amount: a number, or a string such as "19.99".',
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        assert self.max_digits is not None
        assert self.decimal_places is not None
        self.places = self.decimal_places
        self.whole = self.max_digits - self.decimal_places
        self.text_pattern = rf"^[0-9]{{1,{self.whole}}}(\.[0-9]{{1,{self.places}}})?$"

    def validate_empty_values(self, data):
        # DRF reads a blank string as null; the schema does not.
        return serializers.Field.validate_empty_values(self, data)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | str | Decimal):
            self.fail("invalid")
        if isinstance(data, str) and not re.fullmatch(self.text_pattern, data):
            self.fail("invalid")
        return super().to_internal_value(data)

    def schema(self) -> dict:
        number: dict = {
            "type": "number",
            "multipleOf": float(Decimal(1).scaleb(-self.places)),
        }
        if self.min_value is not None:
            number["minimum"] = float(self.min_value)
        number["maximum"] = float(10**self.whole)
        number["exclusiveMaximum"] = True
        if self.max_value is not None:
            number["maximum"] = float(self.max_value)
            number.pop("exclusiveMaximum")
        return {"oneOf": [number, {"type": "string", "pattern": self.text_pattern}]}


class DateTimeField(serializers.DateTimeField):
    """An RFC 3339 date-time with an offset, in the years a store can show."""

    default_error_messages = {
        "invalid": "Enter an RFC 3339 date-time with an offset, e.g. 2025-05-01T12:00:00Z.",
        "out_of_range": (f"Enter a date between {EARLIEST_DATE.year} and {LATEST_DATE.year - 1}."),
    }

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid")
        parsed = parse_date_time(value)
        if parsed is None:
            self.fail("invalid")
        if not re.match(SHOWABLE_YEARS, value):
            self.fail("out_of_range")
        return timezone.localtime(parsed)


class StrictFieldSchema(OpenApiSerializerFieldExtension):
    """The schemas of the strict fields: what they accept, exactly."""

    target_class = StrictCharField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["pattern"] = self.target.schema_pattern
        return schema


class MoneyFieldSchema(OpenApiSerializerFieldExtension):
    target_class = MoneyField

    def map_serializer_field(self, auto_schema, direction):
        return self.target.schema()


class DateTimeFieldSchema(OpenApiSerializerFieldExtension):
    target_class = DateTimeField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "format": "date-time", "pattern": f"^{SHOWABLE_YEARS}-"}


class ListSchema(OpenApiSerializerFieldExtension):
    """A list of serializers (many=True) with its bounds: DRF's min_length, max_length and
    allow_empty, which drf-spectacular leaves out."""

    target_class = serializers.ListSerializer
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        field = self.target
        smallest = max(field.min_length or 0, 0 if field.allow_empty else 1)
        if smallest:
            schema["minItems"] = smallest
        if field.max_length is not None:
            schema["maxItems"] = field.max_length
        return schema
