"""The local phone book: lookups within amoCRM's 7 requests/s, numbers matched however stored."""

from __future__ import annotations

from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import Build


def gets(fake: FakeAmoCrm) -> int:
    return len(
        [h for h in fake.hits if h.method == "GET" and h.path in ("/api/v4/contacts", "/api/v4/companies")]
    )


async def test_a_number_stored_with_brackets_and_dashes_is_found(fake: FakeAmoCrm, build: Build) -> None:
    contact = fake.add_contact("Анна", ["+7 (916) 123-45-67"])
    adapter = await build()
    found = await adapter.lookup("+79161234567")
    assert found is not None and found.id == str(contact)
    textual = await build(phone_book=False)  # what the textual search alone makes of it
    assert await textual.lookup("+79161234567") is None


async def test_unknown_callers_cost_no_request_once_the_book_is_loaded(
    fake: FakeAmoCrm, build: Build
) -> None:
    fake.add_contact("Анна", ["+79161234567"])
    adapter = await build(phone_book_refresh_seconds=3600.0)
    await adapter.lookup("+79160000000")  # loads the book: one page of contacts, one of companies
    before = gets(fake)
    for n in range(1, 21):
        assert await adapter.lookup(f"+7916000{n:04d}") is None
    assert gets(fake) == before  # 20 unknown callers, no request (the textual search needs 6 each)


async def test_a_contact_added_in_amocrm_is_found_after_the_next_refresh(
    fake: FakeAmoCrm, build: Build
) -> None:
    adapter = await build(phone_book_refresh_seconds=0.0, lookup_cache_seconds=0.0)
    assert await adapter.lookup("+79165550000") is None
    contact = fake.add_contact("Новый", ["8 916 555 00 00"])
    found = await adapter.lookup("+79165550000")
    assert found is not None and found.id == str(contact)


async def test_a_changed_number_moves_in_the_book(fake: FakeAmoCrm, build: Build) -> None:
    contact = fake.add_contact("Анна", ["+79161234567"])
    adapter = await build(phone_book_refresh_seconds=0.0, lookup_cache_seconds=0.0)
    assert await adapter.lookup("+79161234567") is not None
    fake.contacts[contact]["custom_fields_values"][0]["values"] = [{"value": "+79169999999"}]
    fake.contacts[contact]["updated_at"] += 1
    assert await adapter.lookup("+79161234567") is None
    assert await adapter.lookup("+79169999999") is not None


async def test_a_large_account_is_loaded_over_several_lookups(fake: FakeAmoCrm, build: Build) -> None:
    for n in range(1200):  # more than 4 pages of 250
        fake.add_contact(f"Клиент {n}", [f"+7495{n:07d}"])
    adapter = await build(phone_book_refresh_seconds=0.0, lookup_cache_seconds=0.0)
    book = adapter.contacts.phonebook
    assert book is not None
    await adapter.lookup("+74950000001")  # first pass: 4 pages, not complete: the textual search answers
    assert not book.complete
    found = await adapter.lookup("+74950001199")  # second pass finishes the load
    assert book.complete and found is not None and found.name == "Клиент 1199"


async def test_a_contact_deleted_in_amocrm_leaves_the_book(fake: FakeAmoCrm, build: Build) -> None:
    contact = fake.add_contact("Анна", ["+79161234567"])
    adapter = await build(phone_book_refresh_seconds=0.0, lookup_cache_seconds=0.0)
    assert await adapter.lookup("+79161234567") is not None
    fake.delete_contact(contact)  # changes no updated_at a listing shows: only the event tells
    assert await adapter.lookup("+79161234567") is None
