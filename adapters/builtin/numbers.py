"""Phone number normalisation for the built-in CRM, behind one function.

`connector.calls.phones` (the tracker's normaliser) is used when it exists; until then a small
fallback turns Russian national forms into E.164: 8XXXXXXXXXX / 7XXXXXXXXXX / +7... → +7XXXXXXXXXX.
Short numbers (extensions) are kept as they are.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DIGITS = re.compile(r"\D+")


def _fallback(text: str, country_code: str = "7", national_prefix: str = "8") -> str:
    raw = text.strip()
    digits = _DIGITS.sub("", raw)
    if not digits:
        return ""
    if raw.startswith("+"):
        return "+" + digits
    if len(digits) == 11 and digits[0] == national_prefix and country_code == "7":
        return "+7" + digits[1:]
    if len(digits) == 11 and digits.startswith(country_code):
        return "+" + digits
    if len(digits) == 10 and country_code == "7":
        return "+7" + digits
    if len(digits) > 11:
        return "+" + digits
    return digits


def _pick() -> Callable[[str], str]:
    try:
        from connector.calls import phones  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return _fallback
    candidate = getattr(phones, "normalize", None) or getattr(phones, "normalise", None)
    return candidate if callable(candidate) else _fallback


_normalise = _pick()


def normalise(text: str) -> str:
    """`text` as the store keys numbers: E.164 for external numbers, digits for extensions."""
    try:
        return str(_normalise(text))
    except (TypeError, ValueError):
        return _fallback(text)
