"""Phone number normalisation: E.164 for external parties, last-ten-digit matching for lookups.

Adapters and the tracker share these rules. `normalize` turns what a PBX or a CRM wrote
(`8 (916) 123-45-67`, `79161234567`, `+7 916 123 45 67`, `0079161234567`; `80 29 123-45-67` in
Belarus, `0 50 123 45 67` in Ukraine) into E.164 (`+79161234567`) with libphonenumber
(`phonenumbers`) and a default region (`numbering.region`, e.g. RU, KZ, BY, UZ, UA, GE): the
region's own trunk prefix (8, 0, 80) and international prefixes (810, 00) come from its
metadata, and a number valid nowhere in that region but valid abroad (`375291234567` without
its `+`) is taken as international. Short numbers (extensions, service numbers: fewer than 7
digits) come back as their digits, untouched; text without a digit (`anonymous`, `<unknown>`)
becomes an empty string. A number libphonenumber cannot make sense of is kept as dialled (its
digits, with its `+`) and logged once: never dropped.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import phonenumbers

from connector import logs

log = logs.get_logger(__name__)

DEFAULT_REGION = "RU"
DEFAULT_COUNTRY = "7"
DEFAULT_NATIONAL_PREFIX = "8"
DEFAULT_NATIONAL_LENGTH = 10
SHORT = 7  # fewer digits than this: an extension or a service number, never rewritten
_INTERNATIONAL = ("00", "810")  # dialling prefixes tried when the region's own do not fit
_WARNED_LIMIT = 1024
_warned: set[str] = set()


def digits(number: str) -> str:
    """Only the decimal digits of `number`."""
    return "".join(ch for ch in number if "0" <= ch <= "9")


def region_for(code: str) -> str:
    """A region code (`RU`) from a region code or a country calling code (`7` → RU, `375` → BY);
    ValueError for neither."""
    code = code.strip().lstrip("+")
    if code.isdigit():
        region = phonenumbers.region_code_for_country_code(int(code))
        if region == phonenumbers.UNKNOWN_REGION:
            raise ValueError(f"unknown country calling code {code!r}")
        return str(region)
    region = code.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {code!r} (an ISO 3166 code such as RU, KZ, BY)")
    return region


def normalize(number: str, region: str = DEFAULT_REGION, warn: bool = True) -> str:
    """`number` in E.164 (`+79161234567`) when it is a full number, else its bare digits.

    `region` is the default region (`RU`), or a country calling code (`7`) standing for it;
    `warn=False` for a lookup that only asks (is this dialled number one of the lines?).
    """
    found, understood = _cached(number, region)
    if not understood and warn:
        _warn(found, region)
    return found


@functools.lru_cache(maxsize=8192)
def _cached(number: str, region: str) -> tuple[str, bool]:
    text = number.strip()
    bare = digits(text)
    if not bare:
        return "", True  # anonymous, "<unknown>", a SIP name: no number to speak of
    if len(bare) < SHORT and not text.startswith("+"):
        return bare, True
    return _normalize(("+" if text.startswith("+") else "") + bare, region_for(region))


def _normalize(number: str, region: str) -> tuple[str, bool]:
    bare = number.lstrip("+")
    if number.startswith("+"):
        candidates = [number]
    else:
        candidates = [bare, "+" + bare, *("+" + bare[len(p) :] for p in _INTERNATIONAL if bare.startswith(p))]
    parsed = [p for p in (_parse(c, region) for c in candidates) if p is not None]
    for found in parsed:
        if phonenumbers.is_valid_number(found):
            return _e164(found), True
    if number.startswith("+") and parsed and phonenumbers.is_possible_number(parsed[0]):
        return _e164(parsed[0]), True  # written as international: a range the metadata does not know
    return number, False


def _e164(number: phonenumbers.PhoneNumber) -> str:
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _parse(number: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


def _warn(number: str, region: str) -> None:
    if number not in _warned and len(_warned) < _WARNED_LIMIT:
        _warned.add(number)
        log.warning("phones.not_understood", number=number, region=region, kept_as="dialled")


def is_e164(number: str) -> bool:
    """Whether `number` is already in E.164 form (`+` and 8-15 digits)."""
    return number.startswith("+") and number[1:].isdigit() and 8 <= len(number) - 1 <= 15


def last_digits(number: str, count: int = DEFAULT_NATIONAL_LENGTH) -> str:
    """The last `count` digits of `number`: the key CRMs that store numbers loosely match on."""
    return digits(number)[-count:]


def same_number(a: str, b: str, count: int = DEFAULT_NATIONAL_LENGTH) -> bool:
    """Whether two numbers agree on their last `count` digits (the whole number if shorter)."""
    da, db = digits(a), digits(b)
    if not da or not db:
        return False
    if len(da) < count or len(db) < count:
        return da == db
    return da[-count:] == db[-count:]


def find_number(number: str, candidates: Iterable[str], count: int = DEFAULT_NATIONAL_LENGTH) -> str | None:
    """The first of `candidates` that is the same number as `number` (see `same_number`)."""
    for candidate in candidates:
        if same_number(number, candidate, count):
            return candidate
    return None
