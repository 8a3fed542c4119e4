"""Check codes: the proposer's secret beside the tracking code, to follow and rate a suggestion.

A new code is 12 characters of Crockford's base32 (60 bits): read over the phone without I, L, O or
U to mishear, and typed in any case, with spaces or dashes. Codes given out before are 6 digits and
keep working: both are compared the same way, in constant time. The code travels only in the
message sent to the proposer; what is stored or logged of that message has it redacted.
"""

from __future__ import annotations

import hmac
import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 12
# Longer than any code ever given out: anything longer is refused unread.
_LONGEST = 32
# What a proposer may mistype for a digit: Crockford's reading.
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = re.compile(r"[\s\-]+")
# Compared when the tracking code is unknown, so that the answer takes as long as a wrong check.
_NO_CODE = b"0" * LENGTH
# A secret in a URL's query string: the check code and any token.
_SECRET_PARAM = re.compile(r"(?i)([?&](?:check|token|access_token)=)[^&#\s]*")
REDACTED = "***"


def new_check_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(given: str) -> str:
    """A code as the proposer may type it, in the stored form (uppercase, no separators)."""
    return _SEPARATORS.sub("", given).upper().translate(_READ_AS)


def matches(stored: str | None, given: str) -> bool:
    """Whether `given` is the `stored` check code (None: the tracking code is unknown), in constant
    time for codes of one length; any text at all is only ever "no", never an error."""
    candidate = normalise(given[: _LONGEST * 2]).encode("utf-8", "replace")
    expected = stored.encode() if stored is not None else _NO_CODE
    return hmac.compare_digest(expected, candidate) and stored is not None


def redact(text: str, *secrets_: str | None) -> str:
    """`text` with every given secret and every secret query parameter (check=, token=) masked."""
    for secret in secrets_:
        if secret:
            text = text.replace(secret, REDACTED)
    return _SECRET_PARAM.sub(rf"\g<1>{REDACTED}", text)
