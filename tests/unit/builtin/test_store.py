"""The built-in CRM's store on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.builtin import Pipeline, Settings
from adapters.builtin.activity import feed
from adapters.builtin.callstore import CallFilter
from adapters.builtin.db import ConflictError
from adapters.builtin.people import token_hash
from adapters.builtin.store import Store
from connector.calls.model import Direction
from tests.unit.builtin.helpers import T0, make_call


async def test_unknown_number_gets_a_contact_card_holding_its_calls(store: Store) -> None:
    await store.calls.save(make_call("1.1", "89161234567"))
    await store.calls.save(make_call("1.2", "+7 916 123-45-67", start=T0 + timedelta(hours=1)))
    card = await store.clients.by_phone("+79161234567")
    assert card is not None and card["kind"] == "contact" and card["name"] == ""
    calls, total = await store.calls.list(CallFilter(client_id=card["id"]), limit=10, offset=0)
    assert total == 2 and {c["id"] for c in calls} == {"1.1", "1.2"}


async def test_a_redelivered_call_is_filed_once(store: Store) -> None:
    await store.calls.save(make_call("2.1"))
    await store.calls.save(make_call("2.1"))
    _, total = await store.calls.list(CallFilter(), limit=10, offset=0)
    assert total == 1


async def test_a_client_with_several_phones_is_found_by_each(store: Store) -> None:
    client_id = await store.clients.create("ООО Ромашка", ["+79160000001", "+74950000002"])
    for phone in ("+79160000001", "+74950000002"):
        found = await store.clients.by_phone(phone)
        assert found is not None and found["id"] == client_id


async def test_adding_a_number_merges_its_contact_card_into_the_client(store: Store) -> None:
    await store.calls.save(make_call("3.1", "+79161111111"))
    card = await store.clients.by_phone("+79161111111")
    assert card is not None
    await store.notes.add_comment(card["id"], "перезвонить", None)
    client_id = await store.clients.create("Иван", ["+79162222222"])
    merged = await store.clients.add_phone(client_id, "+79161111111")
    assert merged["phones"] == ["+79161111111", "+79162222222"]
    rows, _ = await feed(store.db, client_id, limit=10, offset=0)
    assert {r["kind"] for r in rows} == {"call", "comment", "change"}  # the change: the number added
    assert await store.db.scalar("SELECT COUNT(*) FROM clients WHERE id = ?", (card["id"],)) == 0


async def test_a_number_of_another_client_cannot_be_taken(store: Store) -> None:
    await store.clients.create("Первый", ["+79163333333"])
    with pytest.raises(ConflictError):
        await store.clients.create("Второй", ["+79163333333"])
    assert await store.db.scalar("SELECT COUNT(*) FROM clients") == 1


async def test_a_company_lists_its_people(store: Store) -> None:
    company_id = await store.companies.create("ООО Вектор", "7701234567")
    await store.clients.create("Пётр", ["+79164444444"], company_id=company_id)
    company = await store.companies.get(company_id)
    assert company["inn"] == "7701234567" and [p["name"] for p in company["people"]] == ["Пётр"]


async def test_the_feed_merges_every_kind_newest_first(store: Store) -> None:
    await store.calls.save(make_call("4.1", "+79165555555"))
    card = await store.clients.by_phone("+79165555555")
    assert card is not None
    pipeline = (await store.deals.pipelines())[0]
    await store.deals.create({"title": "Поставка", "pipeline_id": pipeline["id"], "client_id": card["id"]})
    await store.notes.add_task({"title": "Отправить КП", "client_id": card["id"]}, None)
    await store.notes.add_reminder(card["id"], None, "2026-12-01T09:00:00Z", "напомнить")
    await store.notes.add_comment(card["id"], "хочет скидку", None)
    rows, total = await feed(store.db, card["id"], limit=10, offset=0)
    assert total == 5
    assert rows[-1]["kind"] == "call"  # the call of 2026-11-20 is older than the notes made now
    assert [r["at"] for r in rows] == sorted((r["at"] for r in rows), reverse=True)


async def test_the_feed_filters_by_kind_and_search(store: Store) -> None:
    client_id = await store.clients.create("Ольга", ["+79166666666"])
    await store.notes.add_comment(client_id, "договорились о встрече", None)
    await store.notes.add_comment(client_id, "прислать счёт", None)
    await store.notes.add_task({"title": "встреча в офисе", "client_id": client_id}, None)
    rows, total = await feed(store.db, client_id, kinds=["comment"], q="встреч", limit=10, offset=0)
    assert total == 1 and rows[0]["text"] == "договорились о встрече"


async def test_appeals_are_the_latest_call_per_number_without_a_deal(store: Store) -> None:
    await store.calls.save(make_call("5.1", "+79167777777"))
    await store.calls.save(make_call("5.2", "+79167777777", start=T0 + timedelta(hours=2)))
    await store.calls.save(make_call("5.3", "+79168888888"))
    other = await store.clients.by_phone("+79168888888")
    assert other is not None
    pipeline = (await store.deals.pipelines())[0]
    await store.deals.create({"title": "Сделка", "pipeline_id": pipeline["id"], "client_id": other["id"]})
    rows, _ = await store.calls.list(CallFilter(appeals=True), limit=10, offset=0)
    assert [r["id"] for r in rows] == ["5.2"]


async def test_unsorted_calls_leave_once_the_number_becomes_a_client(store: Store) -> None:
    await store.calls.save(make_call("6.1", "+79169999999"))
    rows, _ = await store.calls.list(CallFilter(unsorted=True), limit=10, offset=0)
    assert [r["id"] for r in rows] == ["6.1"]
    card = await store.clients.by_phone("+79169999999")
    assert card is not None
    await store.clients.update(card["id"], {"name": "Светлана", "kind": "client"})
    rows, _ = await store.calls.list(CallFilter(unsorted=True), limit=10, offset=0)
    assert rows == []


async def test_spam_numbers_are_filtered_in_or_out(store: Store) -> None:
    await store.calls.save(make_call("7.1", "+79160000007"))
    await store.calls.save(make_call("7.2", "+79160000008"))
    await store.calls.mark_spam("+79160000007", None)
    only, _ = await store.calls.list(CallFilter(spam=True), limit=10, offset=0)
    without, _ = await store.calls.list(CallFilter(spam=False), limit=10, offset=0)
    assert [r["id"] for r in only] == ["7.1"] and [r["id"] for r in without] == ["7.2"]


async def test_an_employee_scope_sees_only_calls_their_extension_took_part_in(store: Store) -> None:
    await store.calls.save(make_call("8.1", rang=("202", "203"), answered_by="203"))
    await store.calls.save(make_call("8.2", rang=("204",), answered_by="204"))
    rows, _ = await store.calls.list(CallFilter(extensions=("202",)), limit=10, offset=0)
    assert [r["id"] for r in rows] == ["8.1"]


async def test_internal_calls_are_not_put_on_client_cards(store: Store) -> None:
    await store.calls.save(make_call("9.1", "203", direction=Direction.INTERNAL, did=None))
    assert await store.db.scalar("SELECT COUNT(*) FROM clients") == 0


async def test_closing_a_deal_stamps_when(store: Store) -> None:
    pipeline = (await store.deals.pipelines())[0]
    deal = await store.deals.create({"title": "Лицензии", "pipeline_id": pipeline["id"]})
    closed = await store.deals.update(deal["id"], {"status": "won"})
    assert deal["stage"] == pipeline["stages"][0] and closed["closed_at"] is not None


async def test_employee_tokens_are_kept_only_as_hashes(store: Store) -> None:
    await store.employees.create("Тест", "250", "employee", "secret-token-xyz")
    kept = await store.db.scalar("SELECT token_hash FROM employees WHERE extension = '250'")
    assert kept == token_hash("secret-token-xyz") and "secret-token-xyz" not in kept
    found = await store.employees.by_token("secret-token-xyz")
    assert found is not None and found["extension"] == "250"


async def test_configured_pipelines_are_created_on_open(tmp_path: Path) -> None:
    opened = await Store.open(tmp_path / "p.db", {"Опт": ("Заявка", "Счёт")})
    try:
        assert [(p["name"], p["stages"]) for p in await opened.deals.pipelines()] == [
            ("Опт", ["Заявка", "Счёт"])
        ]
    finally:
        await opened.close()


def test_a_pipeline_of_more_than_eight_stages_is_refused() -> None:
    with pytest.raises(ValueError, match="1 to 8 stages"):
        Settings(pipelines=(Pipeline("Длинная", tuple(str(i) for i in range(9))),))
