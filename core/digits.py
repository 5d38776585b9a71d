"""The one rule for page numbers and sizes, in the feed and the REST API alike."""

import re

_ASCII_DIGITS = re.compile(r"[0-9]+")


def is_ascii_digits(text: str) -> bool:
    """True for ASCII digits only: not "1_0", " 7", Arabic-Indic or other Unicode digits."""
    return _ASCII_DIGITS.fullmatch(text) is not None
