"""Finding the caller's contact by phone: textual spellings, last-10-digit check, brief cache."""

from __future__ import annotations

import pytest

from adapters.amocrm.contacts import spellings
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import CLIENT, Build


def searches(fake: FakeAmoCrm) -> int:
    return len([h for h in fake.hits if h.path == "/api/v4/contacts" and h.method == "GET"])


def test_spellings_cover_plus_seven_seven_and_eight() -> None:
    assert spellings("+79161234567") == ["+79161234567", "79161234567", "89161234567"]


async def test_contact_stored_with_eight_is_found_for_e164_caller(fake: FakeAmoCrm, build: Build) -> None:
    contact_id = fake.add_contact("Иван", ["89161234567"])
    adapter = await build()
    contact = await adapter.lookup(CLIENT)
    assert contact is not None and contact.id == str(contact_id)


async def test_contact_stored_with_plus_seven_is_found(fake: FakeAmoCrm, build: Build) -> None:
    contact_id = fake.add_contact("Иван", ["+7 916 123-45-67", "+79161234567"])
    adapter = await build()
    contact = await adapter.lookup(CLIENT)
    assert contact is not None and contact.id == str(contact_id)


async def test_hit_that_only_contains_the_digits_is_rejected(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Другой", ["+791612345678"])  # a longer number containing the caller's digits
    adapter = await build()
    assert await adapter.lookup(CLIENT) is None


async def test_unknown_number_is_none(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build()
    assert await adapter.lookup(CLIENT) is None


async def test_contact_without_any_custom_fields_is_skipped(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("79161234567", [])  # name matches the query, custom_fields_values is null
    adapter = await build()
    assert await adapter.lookup(CLIENT) is None


async def test_second_lookup_is_served_from_cache(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    await adapter.lookup(CLIENT)
    before = searches(fake)
    await adapter.lookup("89161234567")
    assert searches(fake) == before


async def test_miss_is_cached_too(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build()
    await adapter.lookup(CLIENT)
    before = searches(fake)
    await adapter.lookup(CLIENT)
    assert searches(fake) == before


async def test_contact_carries_responsible_user_and_extension(fake: FakeAmoCrm, build: Build) -> None:
    manager = fake.add_user("Мария", "maria@example.ru")
    fake.add_contact("Иван", [CLIENT], responsible_user_id=manager)
    adapter = await build(users={"202": "Мария"})
    contact = await adapter.lookup(CLIENT)
    assert contact is not None
    assert (contact.responsible_user_id, contact.responsible_extension) == (str(manager), "202")


async def test_contact_lists_its_leads(fake: FakeAmoCrm, build: Build) -> None:
    contact_id = fake.add_contact("Иван", [CLIENT])
    lead_id = fake.add_lead(contact_id)
    adapter = await build()
    contact = await adapter.lookup(CLIENT)
    assert contact is not None and contact.extra["leads"] == [lead_id]


async def test_users_without_admin_rights_fall_back_to_yaml_ids(fake: FakeAmoCrm, build: Build) -> None:
    fake.admin = False
    fake.add_contact("Иван", [CLIENT], responsible_user_id=4242)
    adapter = await build(users={"202": "4242", "203": "someone@example.ru"})
    contact = await adapter.lookup(CLIENT)
    assert contact is not None and contact.responsible_extension == "202"
    assert adapter.users.user_of("203") is None


async def test_failed_periodic_user_refresh_keeps_the_map_and_the_lookup(
    fake: FakeAmoCrm, build: Build
) -> None:
    manager = fake.add_user("Мария")
    fake.add_contact("Иван", [CLIENT], responsible_user_id=manager)
    adapter = await build(users={"202": "Мария"})
    adapter.users._next_refresh = 0.0  # the refresh interval has passed
    fake.fail_next(502, path="/api/v4/users")
    contact = await adapter.lookup(CLIENT)
    assert contact is not None and contact.responsible_extension == "202"


async def test_number_only_on_a_company_card_finds_the_company(fake: FakeAmoCrm, build: Build) -> None:
    company_id = fake.add_company("ООО Ромашка", ["84951234567"])
    adapter = await build()
    found = await adapter.lookup("+74951234567")
    assert found is not None
    assert (found.kind, found.id) == ("company", str(company_id))
    assert found.url is not None and found.url.endswith(f"/companies/detail/{company_id}")


async def test_company_search_can_be_turned_off(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_company("ООО Ромашка", ["84951234567"])
    adapter = await build(search_companies=False)
    assert await adapter.lookup("+74951234567") is None


async def test_the_cache_forgets_the_oldest_number_past_its_size(
    fake: FakeAmoCrm, build: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.amocrm.contacts.CACHE_SIZE", 2)
    adapter = await build(phone_book=False)  # the textual search and its cache
    for number in (CLIENT, "+79160000001", "+79160000002"):
        await adapter.lookup(number)
    before = searches(fake)
    await adapter.lookup("+79160000002")  # still cached
    await adapter.lookup(CLIENT)  # evicted: asked again
    assert searches(fake) - before == 3  # one number asked again, in its three spellings
