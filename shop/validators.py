"""Validators for the codes converted.in checks: ISO 4217 currencies, IANA zones, locales."""

import zoneinfo
from functools import cache

import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator


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


def validate_currency(value: str) -> None:
    if value not in currency_codes():
        raise ValidationError(
            "%(value)s is not an ISO 4217 currency code (e.g. EGP, USD).",
            code="invalid_currency",
            params={"value": value},
        )


@cache
def time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(
            "%(value)s is not an IANA time zone name (e.g. Africa/Cairo).",
            code="invalid_time_zone",
            params={"value": value},
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
