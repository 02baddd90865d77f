"""Number normalisation (connector.calls.phones) and the numbering rules built on it."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

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
    assert phones.normalize("030 1234567", "DE") == phones.normalize("0301234567", "49") == "+49301234567"


# Numbers of the countries MikoPBX is used in, as people and PBXs write them, with the default
# region set to that country (issue 15 defect 3): the trunk prefix (8, 0, 80) and the
# international forms (+, 00, 810) each come out as the same E.164.
COUNTRIES = [
    (
        "RU",
        "+79161234567",
        ["8 916 123-45-67", "79161234567", "9161234567", "+7 916 1234567", "8 10 7 916 123 45 67"],
    ),
    (
        "KZ",
        "+77011234567",
        ["8 701 123 45 67", "77011234567", "7011234567", "+7 701 123 4567", "8107 701 1234567"],
    ),
    (
        "BY",
        "+375291234567",
        ["80 29 123-45-67", "8 029 1234567", "291234567", "375291234567", "810 375 29 1234567"],
    ),
    ("UZ", "+998901234567", ["90 123 45 67", "998901234567", "00998901234567", "+998 90 123 45 67"]),
    ("UA", "+380501234567", ["050 123 45 67", "0501234567", "380501234567", "00380501234567"]),
    ("GE", "+995555123456", ["0555 12 34 56", "555123456", "995555123456", "00995555123456"]),
]


@pytest.mark.parametrize(("region", "want", "written"), COUNTRIES, ids=[c[0] for c in COUNTRIES])
def test_every_way_a_number_is_written_in_its_country_is_one_e164(
    region: str, want: str, written: list[str]
) -> None:
    assert {raw: phones.normalize(raw, region) for raw in written} == {raw: want for raw in written}


@pytest.mark.parametrize("region", ["BY", "UZ", "GE", "UA"])
def test_a_russian_number_without_its_plus_is_recognised_abroad(region: str) -> None:
    assert phones.normalize("0079161234567", region) == "+79161234567"


def test_a_belarusian_number_from_a_russian_trunk_is_international() -> None:
    assert phones.normalize("375291234567", "RU") == "+375291234567"


@pytest.mark.parametrize("region", ["RU", "BY", "GE"])
def test_internal_numbers_are_untouched(region: str) -> None:
    assert [phones.normalize(n, region) for n in ("201", "2200101", "112")] == ["201", "2200101", "112"]


def test_a_number_nobody_can_parse_is_kept_as_dialled_with_a_warning() -> None:
    with capture_logs() as logs:
        kept = [phones.normalize("99912345678901234", "RU"), phones.normalize("+99912345678901", "RU")]
    assert kept == ["99912345678901234", "+99912345678901"]
    assert [e["number"] for e in logs if e["event"] == "phones.not_understood"] == kept


def test_an_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        TrackerRules(region="XX")


def test_the_tracker_writes_clients_in_the_configured_region() -> None:
    rules = rules_from_numbering({"region": "BY", "dids": ["375171234567"]})
    assert (rules.normalize("80291234567"), rules.line_for("80171234567")) == (
        "+375291234567",
        "+375171234567",
    )


def test_the_region_comes_from_the_config() -> None:
    settings = config.loads("ami: {username: u, secret: s}\nnumbering: {region: GE}\n")
    assert rules_from_settings(settings).normalize("0555123456") == "+995555123456"


def test_a_bad_region_in_the_config_is_an_error() -> None:
    with pytest.raises(config.ConfigError, match="region"):
        config.loads("ami: {username: u, secret: s}\nnumbering: {region: Narnia}\n")


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
