"""«Открыть карточку клиента» on the connector's side: the card of a known number, a new contact for an
unknown one (responsible: the employee), and never two contacts for one number however often it is
pressed. The real adapter against the fake amoCRM account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.settings import AuthSettings, Settings, WidgetSettings
from connector.crm import AdapterContext
from connector.settings_schema import Secret
from connector.sync.outbox import Outbox
from tests.fakes.amocrm import FakeAmoCrm


@pytest.fixture
async def amo(tmp_path: Path) -> AsyncIterator[tuple[AmoCrmAdapter, FakeAmoCrm]]:
    fake = await FakeAmoCrm().start()
    outbox = await Outbox.open(tmp_path / "outbox.db")
    async with aiohttp.ClientSession() as session:
        settings = Settings(
            enabled=True,
            base_url=fake.url,
            auth=AuthSettings(mode="long_lived", long_lived_token=Secret(fake.issue_long_lived())),
            widget=WidgetSettings(enabled=True, token=Secret("widget-card-token-0123456789")),
        )
        adapter = AmoCrmAdapter(settings, AdapterContext("amocrm", session, outbox.state("amocrm")))
        await adapter.start()
        try:
            yield adapter, fake
        finally:
            await adapter.aclose()
            await outbox.close()
            await fake.close()


async def test_a_known_number_opens_its_card(amo: tuple[AmoCrmAdapter, FakeAmoCrm]) -> None:
    adapter, fake = amo
    contact_id = fake.add_contact("Анна", ["+79161230001"])
    card = await adapter.widget_card("+79161230001", None)
    assert card == {
        "id": str(contact_id),
        "kind": "contact",
        "name": "Анна",
        "url": f"{fake.url}/contacts/detail/{contact_id}",
        "created": False,
    }


async def test_an_unknown_number_gets_one_new_contact_however_often_it_is_pressed(
    amo: tuple[AmoCrmAdapter, FakeAmoCrm],
) -> None:
    adapter, fake = amo
    user = fake.add_user("Иван")
    cards = await asyncio.gather(*(adapter.widget_card("+79161239999", str(user)) for _ in range(3)))
    made = fake.contacts_with_phone("+79161239999")
    assert (
        sorted(c["created"] for c in cards),
        {c["id"] for c in cards},
        [(c["name"], c.get("responsible_user_id")) for c in made],
    ) == ([False, False, True], {str(made[0]["id"])}, [("Новый контакт", user)])
