"""The pure Call → amoCRM rules: statuses, call kinds, responsible users, templates, bodies."""

from __future__ import annotations

import pytest

from adapters.amocrm import mapping
from adapters.amocrm.settings import LineSettings, ResponsibleSettings
from connector.calls.model import Direction, Disposition
from connector.crm import Contact
from tests.unit.amocrm.conftest import CLIENT, make_call

USERS = {"201": 11, "202": 12, "203": 13}
CONTACT = Contact(id="5", name="Иван", responsible_user_id="99")


def user_of(ext: str | None) -> int | None:
    return USERS.get(ext or "")


@pytest.mark.parametrize(
    ("disposition", "status"),
    [
        (Disposition.ANSWERED, 4),
        (Disposition.BUSY, 7),
        (Disposition.FAILED, 3),
        (Disposition.MISSED, 6),
        (Disposition.NO_ANSWER, 6),
        (Disposition.CANCELLED, 6),
    ],
)
def test_call_status_follows_disposition(disposition: Disposition, status: int) -> None:
    assert mapping.call_status(make_call(disposition=disposition)) == status


@pytest.mark.parametrize(
    ("direction", "disposition", "known", "kind"),
    [
        (Direction.INBOUND, Disposition.ANSWERED, True, "incoming_known"),
        (Direction.INBOUND, Disposition.MISSED, False, "missed_unknown"),
        (Direction.OUTBOUND, Disposition.ANSWERED, False, "outgoing_unknown"),
        (Direction.OUTBOUND, Disposition.BUSY, True, "outgoing_failed"),
    ],
)
def test_kind_of_call(direction: Direction, disposition: Disposition, known: bool, kind: str) -> None:
    assert mapping.kind_of(make_call(direction=direction, disposition=disposition), known) == kind


@pytest.mark.parametrize(
    ("rule", "expected"), [("answered", 12), ("first", 11), ("last", 12), ("contact", 99), ("fixed", 77)]
)
def test_responsible_rule_for_answered_known_client(rule: str, expected: int) -> None:
    rules = ResponsibleSettings(answered_known=rule, fixed_user_id=77)  # type: ignore[arg-type]
    assert mapping.responsible(make_call(), rules, CONTACT, user_of) == expected


def test_missed_unknown_defaults_to_first_who_rang() -> None:
    call = make_call(disposition=Disposition.MISSED, answered_by=None, talk=0)
    assert mapping.responsible(call, ResponsibleSettings(), None, user_of) == 11


def test_unmapped_answerer_falls_back_to_contacts_responsible() -> None:
    assert mapping.responsible(make_call(answered_by="299"), ResponsibleSettings(), CONTACT, user_of) == 99


def test_outgoing_call_belongs_to_caller_whatever_the_rules() -> None:
    call = make_call(direction=Direction.OUTBOUND, rang=(), answered_by="203")
    rules = ResponsibleSettings(answered_known="fixed", fixed_user_id=77)
    assert mapping.responsible(call, rules, CONTACT, user_of) == 13


def test_templates_fill_phone_and_line() -> None:
    assert mapping.render("Звонок {phone} на {line}", make_call(), "Сайт") == f"Звонок {CLIENT} на Сайт"


def test_broken_template_is_kept_as_written() -> None:
    assert mapping.render("Звонок {nope", make_call(), "") == "Звонок {nope"


def test_call_body_has_no_nulls() -> None:
    body = mapping.call_body(
        make_call(answered_by=None, disposition=Disposition.MISSED),
        source="PBX",
        result="x",
        user_id=None,
        link="",
    )
    assert None not in body.values()
    assert "link" not in body and "responsible_user_id" not in body


def test_unsorted_body_uses_lines_pipeline_and_call_id_as_uniq() -> None:
    call = make_call()
    body = mapping.unsorted_body(
        call,
        LineSettings(pipeline_id=7),
        source="PBX",
        service_code="pbx",
        user_id=None,
        link="",
        line_name="",
    )
    assert (body["pipeline_id"], body["metadata"]["uniq"], body["source_uid"]) == (7, call.id, call.id)
