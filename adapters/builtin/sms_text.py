"""How many SMS a text costs: GSM-7 (160 / 153 a part) or UCS-2 (70 / 67 a part).

A text whose every character is in the GSM 03.38 alphabet goes as GSM-7: 160 septets in one
SMS, 153 in each part of a long one (the user data header takes the rest). A character of the
extension table (``^{}\\[~]|€`` and form feed) takes two septets and is never cut between two
parts. Any other character (Cyrillic first of all) makes the whole text UCS-2: 70 UTF-16 units
in one SMS, 67 in each part, and a character outside the BMP (two units) is never cut either.

The card's counter (static/js/pages/sms.js) follows the same rules; tests hold both to them.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
LIMITS = {"gsm7": (160, 153), "ucs2": (70, 67)}
MAX_CHARS = 1000  # SMSC.ru takes at most 1000 characters in one message


@dataclass(frozen=True, slots=True)
class Count:
    """What the counter under the text shows: encoding, parts, units used and left in the last part."""

    encoding: str  # gsm7 | ucs2
    units: int  # septets (gsm7) or UTF-16 code units (ucs2) of the whole text
    segments: int  # SMS the text is sent (and paid) as; 0 for an empty text
    per_segment: int  # units one part holds at this length (160/153 or 70/67)
    left: int  # units still free in the last part before one more SMS is needed


def encoding_of(text: str) -> str:
    """``gsm7`` when every character is in the GSM 03.38 alphabet, else ``ucs2``."""
    return "gsm7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "ucs2"


def _widths(text: str, encoding: str) -> list[int]:
    if encoding == "gsm7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count(text: str) -> Count:
    """The SMS count of `text` (parts filled greedily; a two-unit character never split)."""
    encoding = encoding_of(text)
    single, part = LIMITS[encoding]
    widths = _widths(text, encoding)
    units = sum(widths)
    if units == 0:
        return Count(encoding, 0, 0, single, single)
    if units <= single:
        return Count(encoding, units, 1, single, single - units)
    segments, used = 1, 0
    for width in widths:
        if used + width > part:
            segments, used = segments + 1, 0
        used += width
    return Count(encoding, units, segments, part, part - used)
