"""The SMS counter: GSM-7 160/153, UCS-2 70/67, two-unit characters never cut between parts."""

from __future__ import annotations

import pytest

from adapters.builtin.sms_text import count

CASES = [
    # text, encoding, segments, left
    ("", "gsm7", 0, 160),
    ("a" * 160, "gsm7", 1, 0),
    ("a" * 161, "gsm7", 2, 145),
    ("a" * 306, "gsm7", 2, 0),
    ("a" * 307, "gsm7", 3, 152),
    ("€" * 80, "gsm7", 1, 0),  # an extension character takes two septets
    ("a" * 152 + "€" + "a" * 10, "gsm7", 2, 153 - 12),  # the € does not fit part 1: it opens part 2
    ("я" * 70, "ucs2", 1, 0),
    ("я" * 71, "ucs2", 2, 63),
    ("Скидка 30% на всё до 1 декабря!", "ucs2", 1, 70 - 31),
    ("я" * 134, "ucs2", 2, 0),
    ("я" * 135, "ucs2", 3, 66),
    ("a" * 66 + "😀" + "a", "ucs2", 1, 1),  # one emoji is two UTF-16 units
    ("a" * 66 + "😀" + "a" * 5, "ucs2", 2, 67 - 7),  # 73 units: the emoji moves whole to part 2
]


@pytest.mark.parametrize(("text", "encoding", "segments", "left"), CASES)
def test_segments_and_characters_left(text: str, encoding: str, segments: int, left: int) -> None:
    result = count(text)
    assert (result.encoding, result.segments, result.left) == (encoding, segments, left)


def test_one_cyrillic_letter_makes_a_latin_text_ucs2() -> None:
    assert count("a" * 100).segments == 1
    assert count("a" * 100 + "ж").segments == 2
