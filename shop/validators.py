"""Validators for the codes converted.in checks: ISO 4217 currencies, IANA zones, locales."""

import zoneinfo
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.choices import CallableChoiceIterator


@cache
def currency_codes() -> frozenset[str]:
    """Return every active ISO 4217 alphabetic code."""
    return frozenset(c.alpha_3 for c in pycountry.currencies)


@cache
def _currency_choices() -> tuple[tuple[str, str], ...]:
    return tuple(sorted((c.alpha_3, f"{c.alpha_3} - {c.name}") for c in pycountry.currencies))


def currency_choices() -> tuple[tuple[str, str], ...]:
    """Return (code, "CODE - Name") pairs sorted by code (a callable, so migrations don't
    copy the list)."""
    return _currency_choices()


class CachedChoices(CallableChoiceIterator):
    """A callable's choices that iterate its cached pairs as they are. Django's own normalises
    the pairs again on each pass, and Field.validate walks them for every record a batch
    checks; deconstructed as the callable, so migrations do not change."""

    def __iter__(self):
        return iter(self.func())


def _known(value: str, known: frozenset[str], message: str, code: str) -> None:
    if value not in known:
        raise ValidationError(message, code=code, params={"value": value})


def validate_currency(value: str) -> None:
    _known(
        value,
        currency_codes(),
        "%(value)s is not an ISO 4217 currency code (e.g. EGP, USD).",
        "invalid_currency",
    )


@cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def store_zone(store) -> zoneinfo.ZoneInfo:
    """The store's zone; UTC when the stored name is not one (the admin index must render)."""
    try:
        return zoneinfo.ZoneInfo(store.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def validate_time_zone(value: str) -> None:
    _known(
        value,
        time_zone_names(),
        "%(value)s is not an IANA time zone name (e.g. Africa/Cairo).",
        "invalid_time_zone",
    )


validate_phone = RegexValidator(
    regex=r"^\+?[0-9][0-9 ()\-]{4,22}[0-9]$",
    message="Enter a phone number of digits, optionally starting with + (e.g. +201000000001).",
    code="invalid_phone",
)

validate_locale = RegexValidator(
    regex=r"^[a-z]{2,3}([_-][A-Za-z]{2,4})?$",
    message="Enter a language code such as en, ar or en-US.",
    code="invalid_locale",
)


# Dates a store can show in any time zone and that converted.in can read: past year 9999 a
# date cannot be converted to a zone east of UTC, before 1900 some zones' rules are unknown.
EARLIEST_DATE = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(9000, 1, 1, tzinfo=UTC)
# How far ahead of the server's clock an order or a registration may be (clocks differ).
CLOCK_SKEW = timedelta(days=1)


def validate_showable_date(value: datetime) -> None:
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return  # the field's own parsing reports what is not a date
    if not EARLIEST_DATE <= value < LATEST_DATE:
        raise ValidationError(
            "Enter a date between 1900 and 8999.", code="date_out_of_range", params={}
        )


def validate_past_date(value: datetime) -> None:
    """A date that has happened: an order's or a registration's."""
    validate_showable_date(value)
    if isinstance(value, datetime) and value > timezone.now() + CLOCK_SKEW:
        raise ValidationError("This date is in the future.", code="date_in_future")


def in_zone(value: datetime, zone: tzinfo) -> datetime:
    """`value` in `zone`; in UTC when the zone cannot hold it (a date at the edge of year 1 or
    9999, stored before dates were checked): shown a few hours off, never a server error."""
    try:
        return value.astimezone(zone)
    except OverflowError:
        return value.astimezone(UTC)
