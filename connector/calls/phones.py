"""Phone number normalisation: E.164 for external parties, last-ten-digit matching for lookups.

Adapters and the tracker share these rules. `normalize` turns what a PBX or a CRM wrote
(`8 (916) 123-45-67`, `79161234567`, `+7 916 123 45 67`, `0079161234567`) into E.164
(`+79161234567`) for a configured default country; short numbers (extensions, service numbers)
come back as their digits, untouched, since no country rule applies to them; text without a
digit (`anonymous`, `<unknown>`) becomes an empty string.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_COUNTRY = "7"
DEFAULT_NATIONAL_PREFIX = "8"
DEFAULT_NATIONAL_LENGTH = 10


def digits(number: str) -> str:
    """Only the decimal digits of `number`."""
    return "".join(ch for ch in number if "0" <= ch <= "9")


def normalize(
    number: str,
    country_code: str = DEFAULT_COUNTRY,
    national_prefix: str = DEFAULT_NATIONAL_PREFIX,
    national_length: int = DEFAULT_NATIONAL_LENGTH,
) -> str:
    """`number` in E.164 (`+79161234567`) when it is a full number, else its bare digits.

    Rules, in order: a leading `+`, `00` or national prefix + `10` (Russia's `810`) is
    international; the national prefix followed by a national number (`8` + 10 digits in
    Russia), the country code followed by one (`7` + 10 digits) or a bare national number (10
    digits) gets the default country code; a longer number is taken as international.
    """
    text = number.strip()
    bare = digits(text)
    if not bare:
        return ""  # anonymous, "<unknown>", a SIP name: no number to speak of
    if text.startswith("+"):
        return "+" + bare
    # International dialling prefixes: 00 nearly everywhere, and 810 where 8 is the trunk prefix.
    for exit_code in ("00", "810") if national_prefix == "8" else ("00",):
        if bare.startswith(exit_code) and len(bare) > national_length + len(exit_code):
            return "+" + bare[len(exit_code) :]
    rest = len(bare) - national_length
    if national_prefix and rest == len(national_prefix) and bare.startswith(national_prefix):
        return "+" + country_code + bare[rest:]
    if rest == len(country_code) and bare.startswith(country_code):
        return "+" + bare
    if rest == 0:
        return "+" + country_code + bare
    if rest > len(country_code):
        return "+" + bare  # longer than any national number here: international without its +
    return bare


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
