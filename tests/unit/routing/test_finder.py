"""The responsible finder: CRM order, user mapping, cache, hard timeout, failing CRMs."""

from __future__ import annotations

import asyncio

import pytest

from connector.crm import Contact
from connector.errors import TransientError
from connector.routing import InterceptionSettings, LookupTimedOut, ResponsibleFinder

PHONE = "+79161112233"


class Crm:
    """A CRM lookup: one contact, an optional delay, or an error; counts its questions."""

    def __init__(
        self, extension: str | None, user: str = "7", delay: float = 0.0, fail: bool = False
    ) -> None:
        self.extension = extension
        self.user = user
        self.delay = delay
        self.fail = fail
        self.asked = 0

    async def lookup(self, phone: str) -> Contact | None:
        self.asked += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise TransientError("CRM is down", adapter="crm")
        return Contact(
            "1", "Клиент", (phone,), responsible_user_id=self.user, responsible_extension=self.extension
        )


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def finder(*crms: tuple[str, Crm], clock: Clock | None = None, **options: object) -> ResponsibleFinder:
    settings = InterceptionSettings(enabled=True, **options)  # type: ignore[arg-type]
    return ResponsibleFinder([(name, crm.lookup) for name, crm in crms], settings, clock or Clock())


async def test_the_first_configured_crm_with_an_answer_wins() -> None:
    found = await finder(
        ("amocrm", Crm("201")), ("bitrix24", Crm("202")), adapters=("bitrix24", "amocrm")
    ).find(PHONE)
    assert found is not None and (found.extension, found.adapter) == ("202", "bitrix24")


async def test_a_crm_without_a_responsible_extension_gives_way_to_the_next() -> None:
    found = await finder(("amocrm", Crm(None)), ("bitrix24", Crm("202"))).find(PHONE)
    assert found is not None and found.adapter == "bitrix24"


async def test_the_user_map_turns_a_crm_user_into_an_extension() -> None:
    found = await finder(("amocrm", Crm(None, user="555")), users={"amocrm": {"555": "207"}}).find(PHONE)
    assert found is not None and found.extension == "207"


async def test_a_cached_answer_does_not_ask_the_crm_again() -> None:
    crm = Crm("201")
    f = finder(("crm", crm))
    await f.find(PHONE)
    await f.find("8 (916) 111-22-33")
    assert crm.asked == 1


async def test_an_expired_answer_asks_again() -> None:
    crm, clock = Crm("201"), Clock()
    f = finder(("crm", crm), clock=clock, cache_seconds=60.0)
    await f.find(PHONE)
    clock.now += 61
    await f.find(PHONE)
    assert crm.asked == 2


async def test_the_cache_keeps_at_most_its_size() -> None:
    crm = Crm("201")
    f = finder(("crm", crm), cache_size=2)
    for number in ("+79160000001", "+79160000002", "+79160000003", "+79160000001"):
        await f.find(number)
    assert crm.asked == 4


async def test_a_slow_crm_times_out_for_the_caller() -> None:
    f = finder(("crm", Crm("201", delay=0.5)), lookup_timeout=0.05)
    with pytest.raises(LookupTimedOut):
        await f.find(PHONE)
    await f.aclose()


async def test_a_timed_out_lookup_still_warms_the_cache_for_the_next_call() -> None:
    crm = Crm("201", delay=0.1)
    f = finder(("crm", crm), lookup_timeout=0.02)
    with pytest.raises(LookupTimedOut):
        await f.find(PHONE)
    await asyncio.wait(list(f._running.values()))
    found = await f.find(PHONE)
    assert (found is not None and found.extension, crm.asked) == ("201", 1)


async def test_a_failing_crm_does_not_stop_the_others() -> None:
    found = await finder(("amocrm", Crm("201", fail=True)), ("bitrix24", Crm("202"))).find(PHONE)
    assert found is not None and found.adapter == "bitrix24"


async def test_close_cancels_the_lookups_left_running() -> None:
    f = finder(("crm", Crm("201", delay=5)), lookup_timeout=0.01)
    with pytest.raises(LookupTimedOut):
        await f.find(PHONE)
    await f.aclose()
    assert not f._running


@pytest.mark.parametrize(
    "injected",
    [
        "201)}${SHELL(id>/tmp/pwn)}${DEVICE_STATE(PJSIP/201",  # dialplan function injection
        "79991234567@all_peers/n&Local/201",  # an extra Dial() target: toll fraud
        "201,20,tT",  # Dial() options
        "201\n",  # `$` in a pattern would let a trailing newline through
    ],
)
async def test_a_crm_extension_with_dialplan_syntax_is_never_used(injected: str) -> None:
    found = await finder(("bitrix24", Crm(injected)), ("amocrm", Crm("202"))).find(PHONE)
    assert found is not None and (found.extension, found.adapter) == ("202", "amocrm")
