"""What a channel may hand over as text and as a proposer's phone number, checked at intake.

Names, addresses, titles and references are one line of printable text: a control character
(an escape sequence, a NUL, a bidirectional override) would reach officials' terminals, letters
and SMS. A phone number is a mainland mobile or landline one, so the office can call or text it;
a mobile is kept as its 11 digits, the form the SMS gateway takes.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Bidirectional embeddings, overrides and isolates: they reorder what an official reads.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_PROSE_BREAKS = frozenset("\n\r\t")

_SEPARATORS = re.compile(r"[\s\-()]")
_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9]\d{9})")
# A landline: optional +86 / 0086 (then the area code without its 0), area code, 7–8 digit local
# number, optional extension; or a 400/800 service number.
_LANDLINE = re.compile(
    r"(?:(?:\+|00)86[ -]?\(?[1-9]\d{1,2}\)?[ -]?|\(?0[1-9]\d{1,2}\)?[ -]?)?[2-9]\d{2,3}[ -]?\d{4}"
    r"(?:(?:[ -]?(?:转|ext\.?|x|#)[ -]?|[ -])\d{1,6})?"
    r"|[48]00[ -]?\d{3}[ -]?\d{4}",
    re.IGNORECASE,
)
PHONE_HINT = "a mainland mobile (13812345678, +86 138 1234 5678) or landline number (021-62781234, 62781234)"


def _refused(char: str, *, prose: bool) -> bool:
    if prose and char in _PROSE_BREAKS:
        return False
    return char in _BIDI or unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"}


def _checked(value: str, *, prose: bool) -> str:
    for char in value:
        if _refused(char, prose=prose):
            allowed = " (line breaks and tabs are allowed)" if prose else ""
            raise ValueError(f"contains a control character U+{ord(char):04X}{allowed}")
    return value


def _line(value: str) -> str:
    return _checked(value, prose=False)


def _prose(value: str) -> str:
    return _checked(value, prose=True)


# One line of text without control characters (names, addresses, titles, codes).
Line = Annotated[str, AfterValidator(_line)]
# Text that may run over several lines (a suggestion's content), otherwise the same.
Prose = Annotated[str, AfterValidator(_prose)]


def mobile_number(phone: str | None) -> str | None:
    """The 11 digits of a mainland mobile number in ``phone`` (separators and +86 dropped), or None:
    a landline, or no number. Only a mobile can receive an SMS."""
    if not phone:
        return None
    found = _MOBILE.fullmatch(_SEPARATORS.sub("", phone))
    return found.group(1) if found else None


def phone_number(value: str) -> str:
    """A proposer's phone number as stored: a mobile as its 11 digits, a landline as given."""
    mobile = mobile_number(value)
    if mobile is not None:
        return mobile
    if _LANDLINE.fullmatch(value.strip()) is None:
        raise ValueError(f"expected {PHONE_HINT}")
    return value.strip()


Phone = Annotated[str, AfterValidator(phone_number)]
