"""The built-in CRM through the adapter interface the outbox uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.builtin import Settings, create, with_storage
from adapters.builtin.adapter import BuiltinAdapter
from adapters.builtin.callstore import CallFilter
from connector.crm import AdapterContext, JobKind, MemoryState
from tests.unit.builtin.helpers import make_call


@pytest.fixture
async def adapter(tmp_path: Path) -> AsyncIterator[BuiltinAdapter]:
    async with aiohttp.ClientSession() as session:
        made = create(with_storage(Settings(), tmp_path), AdapterContext("builtin", session, MemoryState()))
        assert isinstance(made, BuiltinAdapter)
        await made.start()
        try:
            yield made
        finally:
            await made.aclose()


async def test_the_database_lands_under_the_storage_dir(adapter: BuiltinAdapter, tmp_path: Path) -> None:
    assert adapter.store.db.path == tmp_path / "builtin.db" and (tmp_path / "builtin.db").exists()


async def test_lookup_returns_the_client_and_its_responsible_employee(adapter: BuiltinAdapter) -> None:
    employee, _ = await adapter.store.employees.create("Марк", "201", "manager")
    await adapter.store.clients.create("Ирина", ["+79161230000"], responsible_id=employee["id"])
    contact = await adapter.lookup("8 (916) 123-00-00")
    assert contact is not None
    assert (contact.name, contact.responsible_extension, contact.kind) == ("Ирина", "201", "client")


async def test_lookup_of_an_unknown_number_is_none(adapter: BuiltinAdapter) -> None:
    assert await adapter.lookup("+79990000000") is None


async def test_an_unknown_caller_makes_unsorted_log_and_recording_jobs(adapter: BuiltinAdapter) -> None:
    call = make_call(recording="/rec/a.mp3")
    assert adapter.jobs_for(call) == [JobKind.CREATE_UNSORTED, JobKind.LOG_CALL, JobKind.ATTACH_RECORDING]


async def test_outbox_jobs_file_the_call_on_the_numbers_contact_card(adapter: BuiltinAdapter) -> None:
    call = make_call("10.1", "+79161239999", recording="/rec/b.mp3")
    for kind in adapter.jobs_for(call):
        await adapter.perform(kind, call.to_dict())
    rows, _ = await adapter.store.calls.list(CallFilter(unsorted=True), limit=10, offset=0)
    assert [(r["id"], r["client_kind"], r["recording"]) for r in rows] == [("10.1", "contact", "/rec/b.mp3")]


async def test_a_known_callers_call_lands_on_their_card(adapter: BuiltinAdapter) -> None:
    client_id = await adapter.store.clients.create("Олег", ["+79161238888"])
    await adapter.perform(JobKind.LOG_CALL, make_call("11.1", "+79161238888").to_dict())
    call = await adapter.store.calls.get("11.1")
    assert call["client_id"] == client_id and call["client_name"] == "Олег"


async def test_a_recording_for_a_call_not_yet_filed_files_it(adapter: BuiltinAdapter) -> None:
    call = make_call("12.1", recording="/rec/c.mp3")
    await adapter.perform(JobKind.ATTACH_RECORDING, call.to_dict())
    assert (await adapter.store.calls.get("12.1"))["recording"] == "/rec/c.mp3"


async def test_a_call_for_a_store_not_open_is_retried_later(tmp_path: Path) -> None:
    from adapters.builtin.store import Store
    from connector.errors import TransientError

    async with aiohttp.ClientSession() as session:
        closed = BuiltinAdapter(AdapterContext("builtin", session, MemoryState()), Store(tmp_path / "x.db"))
        with pytest.raises(TransientError):
            await closed.log_call(make_call())
