"""Number normalisation (connector.calls.phones) and the numbering rules built on it."""

from __future__ import annotations

import pytest

from connector import config
from connector.calls import phones
from connector.calls.rules import TrackerRules, rules_from_numbering, rules_from_settings


@pytest.mark.parametrize(
    "raw",
    [
        "89161234567",
        "79161234567",
        "+79161234567",
        "+7 (916) 123-45-67",
        "8 916 123 45 67",
        "9161234567",
        "0079161234567",
    ],
)
def test_russian_formats_become_the_same_e164(raw: str) -> None:
    assert phones.normalize(raw) == "+79161234567"


def test_short_numbers_stay_as_digits() -> None:
    assert phones.normalize("201") == "201"


@pytest.mark.parametrize("raw", ["<unknown>", "anonymous", ""])
def test_no_digits_means_no_number(raw: str) -> None:
    assert phones.normalize(raw) == ""


def test_other_country_uses_its_code_and_prefix() -> None:
    assert (
        phones.normalize("0301234567", country_code="49", national_prefix="0", national_length=9)
        == "+49301234567"
    )


@pytest.mark.parametrize("raw", ["+380501234567", "00380501234567", "810380501234567", "380501234567"])
def test_foreign_numbers_in_any_international_form_become_e164(raw: str) -> None:
    assert phones.normalize(raw) == "+380501234567"


def test_foreign_number_with_plus_is_kept() -> None:
    assert phones.normalize("+44 20 7946 0958") == "+442079460958"


def test_same_number_matches_on_last_ten_digits() -> None:
    assert phones.same_number("8 (916) 123-45-67", "+79161234567")


def test_same_number_rejects_different_numbers() -> None:
    assert not phones.same_number("+79161234567", "+79161234568")


def test_last_digits_takes_the_tail() -> None:
    assert phones.last_digits("+7 916 123-45-67") == "9161234567"


def test_is_e164() -> None:
    assert phones.is_e164("+79161234567") and not phones.is_e164("89161234567")


def test_line_for_matches_a_configured_did() -> None:
    rules = rules_from_numbering({"country": "7", "dids": ["74951110001"]})
    assert rules.line_for("84951110001") == "+74951110001"


def test_line_for_is_none_for_an_unknown_line_when_lines_are_configured() -> None:
    rules = rules_from_numbering({"dids": ["74951110001"]})
    assert rules.line_for("74959999999") is None


def test_line_for_uses_the_dialled_number_without_configured_lines() -> None:
    assert TrackerRules().line_for("74951110002") == "+74951110002"


def test_line_for_is_none_for_an_extension() -> None:
    assert TrackerRules().line_for("202") is None


def test_internal_pattern_decides_extensions() -> None:
    rules = TrackerRules(internal_pattern=r"^2[0-9]{2}$")
    assert rules.is_extension("201") and not rules.is_extension("301")


def test_bad_country_code_is_refused() -> None:
    with pytest.raises(ValueError, match="country_code"):
        TrackerRules(country_code="+7")


def test_rules_come_from_the_numbering_and_calls_sections() -> None:
    text = """
ami: {username: u, secret: s}
numbering:
  country_code: "375"
  national_prefix: "80"
  internal_pattern: "^[0-9]{3}$"
  lines: [{number: "375171234567", name: Site}]
calls: {max_call_seconds: 600}
"""
    rules = rules_from_settings(config.loads(text))
    assert (
        rules.country_code,
        rules.national_prefix,
        rules.internal_pattern,
        rules.dids,
        rules.max_call_seconds,
    ) == ("375", "80", "^[0-9]{3}$", ("375171234567",), 600.0)
