"""The interception decision: the cheap rules first, then the CRMs."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.crm import Contact
from connector.routing import Interception, InterceptionSettings, ResponsibleFinder

KNOWN = "+79161112233"


class Crm:
    """A CRM's lookup that counts its questions."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def lookup(self, phone: str) -> Contact | None:
        self.asked.append(phone)
        if phone == KNOWN:
            return Contact("1", "Клиент", (phone,), responsible_user_id="7", responsible_extension="203")
        return None


def make(crm: Crm, **options: object) -> Interception:
    values: dict[str, object] = {"enabled": True, "attempt_seconds": 12}
    values.update(options)
    settings = InterceptionSettings(**values)  # type: ignore[arg-type]
    return Interception(settings, ResponsibleFinder([("crm", crm.lookup)], settings))


async def test_a_known_client_rings_the_responsible_for_the_attempt_time() -> None:
    decision = await make(Crm()).decide("89161112233", "74951110001")
    assert (decision.extension, decision.seconds, decision.adapter) == ("203", 12, "crm")


async def test_an_unknown_caller_is_not_intercepted() -> None:
    assert (await make(Crm()).decide("89165550000", "74951110001")).reason == "no_responsible"


async def test_switched_off_asks_no_crm() -> None:
    crm = Crm()
    decision = await make(crm, enabled=False).decide(KNOWN, "")
    assert (decision.reason, crm.asked) == ("disabled", [])


async def test_a_disabled_line_asks_no_crm() -> None:
    crm = Crm()
    decision = await make(crm, disabled_dids=("84951110001",)).decide(KNOWN, "74951110001")
    assert (decision.reason, crm.asked) == ("did_disabled", [])


async def test_outside_working_hours_asks_no_crm() -> None:
    crm = Crm()
    sunday = datetime(2026, 11, 22, 12, tzinfo=UTC)
    interception = make(crm, working_hours=("mon-fri 09:00-18:00",))
    interception._now = lambda: sunday
    decision = await interception.decide(KNOWN, "")
    assert (decision.reason, crm.asked) == ("after_hours", [])


async def test_an_employees_own_number_is_not_intercepted() -> None:
    crm = Crm()
    decision = await make(crm, employee_numbers=("8 916 111-22-33",)).decide(KNOWN, "")
    assert (decision.reason, crm.asked) == ("employee", [])


async def test_an_anonymous_caller_is_not_intercepted() -> None:
    assert (await make(Crm()).decide("anonymous", "")).reason == "no_number"


def test_an_unavailable_device_state_skips_the_responsible() -> None:
    assert make(Crm()).unavailable("UNAVAILABLE")


def test_a_busy_device_is_rung_unless_configured_otherwise() -> None:
    assert not make(Crm()).unavailable("INUSE")


def test_the_dial_string_names_the_extension() -> None:
    assert make(Crm(), dial="PJSIP/{ext}").dial_string("203") == "PJSIP/203"
