"""Personalised mailings: the client's fields in the text, filled per recipient when it is queued.

The renderer itself without a database; the routes on SQLite and PostgreSQL, with the fake SMSC.ru.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.builtin import sms_service
from adapters.builtin.db import PostgresTarget, Target
from adapters.builtin.placeholders import TemplateError, check, names_of, render
from adapters.builtin.store import Store
from tests.fakes.smsc import FakeSmsc
from tests.postgres import Cluster
from tests.unit.builtin.helpers import CrmServer, crm_server
from tests.unit.sms.conftest import sms_settings

MANAGER = "201"


@pytest.fixture(params=("sqlite", "postgresql"))
def crm_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A new SQLite file, or a new database on the run's PostgreSQL server."""
    if request.param == "sqlite":
        yield tmp_path / "crm.db"
        return
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    with cluster.fresh_database() as url:
        yield PostgresTarget(url, files=tmp_path / "crm-files")


@pytest.fixture
async def crm(tmp_path: Path, smsc: FakeSmsc, crm_target: Target) -> AsyncIterator[CrmServer]:
    """The CRM with SMS through the fake; nothing is sent unless a test drives the sender."""

    def prepare(app: web.Application, store: Store) -> None:
        sms_service.configure(app, sms_settings(smsc), store.sms, run_sender=False)

    async with crm_server(tmp_path, prepare=prepare, target=crm_target) as running:
        yield running


async def call(
    crm: CrmServer, method: str, path: str, body: Any = None, ext: str = MANAGER
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{crm.url}/api/crm{path}", json=body, headers=crm.headers(ext)) as r,
    ):
        return r.status, await r.json() if r.content_type.endswith("json") else None


async def _clients(crm: CrmServer) -> list[int]:
    """Two clients: Ольга of «Ромашка» (manager Марк, city Тверь) and a nameless one with nothing set."""
    store = crm.store
    company = await store.companies.create("Ромашка")
    manager = await store.employees.by_extension(MANAGER)
    assert manager is not None
    olga = await store.clients.create(
        "Ольга", ["+79160000001"], company_id=company, responsible_id=manager["id"]
    )
    bare = await store.clients.create("", ["+79160000002"])
    city = await store.custom.define("client", "Город", "text")
    await store.custom.set_values("client", await store.clients.get(olga), {city["id"]: "Тверь"})
    return [olga, bare]


def test_a_field_answers_to_each_of_its_names_and_an_empty_one_takes_the_default_or_nothing() -> None:
    values = {"имя": "Ольга", "компания": "", "город": "Тверь"}
    text = "{Имя}/{name}/{{клиент}}, { компания | ваша компания }, {компания}!{Город}"
    assert render(text, values) == "Ольга/Ольга/Ольга, ваша компания, !Тверь"


def test_an_unknown_placeholder_is_named_in_russian_with_the_fields_there_are() -> None:
    with pytest.raises(TemplateError) as caught:
        check("Здравствуйте, {фамилия}! {имя} {Отчество|}", names_of([]))
    message = str(caught.value)
    assert message.startswith("неизвестные поля в тексте: {фамилия}, {Отчество}.")
    assert "{имя}" in message and "{компания}" in message


async def test_each_recipient_gets_their_own_text_when_the_mailing_is_queued(crm: CrmServer) -> None:
    ids = await _clients(crm)
    text = "{имя|Клиент}, {компания|}: скидка в {Город|вашем городе}. {ответственный}, {сотрудник}"
    body = {"name": "Акция", "text": text, "client_ids": ids, "scheduled_at": "2000-01-01T00:00:00Z"}
    status, made = await call(crm, "POST", "/sms/mailings", body)
    assert status == 201, made
    rows = await crm.store.db.fetch_all(
        "SELECT phone, text FROM sms_messages WHERE mailing_id = ? ORDER BY phone", (made["id"],)
    )
    assert [(r["phone"], r["text"]) for r in rows] == [
        ("+79160000001", "Ольга, Ромашка: скидка в Тверь. Марк Менеджер, Марк Менеджер"),
        ("+79160000002", "Клиент, : скидка в вашем городе. , Марк Менеджер"),
    ]
    assert made["text"] == text  # the mailing keeps the template


async def test_the_estimate_counts_every_rendering_and_previews_the_first(crm: CrmServer) -> None:
    ids = await _clients(crm)
    await crm.store.db.write("UPDATE clients SET name = ? WHERE id = ?", ("Ольга" + "я" * 70, ids[0]))
    status, estimate = await call(
        crm, "POST", "/sms/mailings/preview", {"text": "{имя|Клиент}, привет", "client_ids": ids}
    )
    assert status == 200, estimate
    # Ольга's rendering is 2 SMS, the other one 1: 3 in all, not 2 × 2 nor 2 × 1
    assert (estimate["sms_total"], estimate["segments"], estimate["personal"]) == (3, 2, True)
    assert estimate["preview"] == {"client_id": ids[0], "phone": "+79160000001",
                                   "text": "Ольга" + "я" * 70 + ", привет", "segments": 2}  # fmt: skip
    assert estimate["cost"] == 7.5  # the fake's 2.5 a part, for the real 3 parts


async def test_an_unknown_placeholder_is_a_400_and_nothing_is_made(crm: CrmServer, smsc: FakeSmsc) -> None:
    ids = await _clients(crm)
    body = {"name": "Акция", "text": "Здравствуйте, {фамилия}!", "client_ids": ids}
    for path in ("/sms/mailings/preview", "/sms/mailings"):
        status, problem = await call(crm, "POST", path, body)
        assert status == 400 and "неизвестные поля в тексте: {фамилия}" in problem["detail"], problem
    assert await crm.store.db.scalar("SELECT COUNT(*) FROM sms_messages") == 0
    assert smsc.requests == []  # not even a price asked


async def test_an_sms_typed_on_the_card_is_filled_with_that_clients_fields(crm: CrmServer) -> None:
    olga, bare = await _clients(crm)
    text = "{имя|Клиент}, ждём вас в {Город|нашем офисе}. {сотрудник}"
    status, message = await call(crm, "POST", f"/clients/{olga}/sms", {"text": text})
    assert status == 202, message
    assert (message["phone"], message["text"]) == ("+79160000001", "Ольга, ждём вас в Тверь. Марк Менеджер")
    status, other = await call(crm, "POST", f"/clients/{bare}/sms", {"text": text})
    assert status == 202 and other["text"] == "Клиент, ждём вас в нашем офисе. Марк Менеджер"
    long_name = "Ольга" + "я" * 70  # the filled text is what is counted, and paid for
    await crm.store.db.write("UPDATE clients SET name = ? WHERE id = ?", (long_name, olga))
    _, two = await call(crm, "POST", f"/clients/{olga}/sms", {"text": "{имя}, привет"})
    assert (two["text"], two["segments"]) == (long_name + ", привет", 2)
    status, problem = await call(crm, "POST", f"/clients/{olga}/sms", {"text": "Здравствуйте, {фамилия}!"})
    assert status == 400 and "неизвестные поля в тексте: {фамилия}" in problem["detail"], problem
    assert await crm.store.db.scalar("SELECT COUNT(*) FROM sms_messages") == 3


async def test_the_fields_a_mailing_may_use_are_listed_with_the_custom_ones(crm: CrmServer) -> None:
    await _clients(crm)
    status, info = await call(crm, "GET", "/sms")
    assert status == 200
    names = [f["name"] for f in info["placeholders"]]
    assert names[:3] == ["имя", "компания", "ответственный"] and "Город" in names


async def test_a_mail_template_is_filled_by_the_same_renderer_with_custom_fields_and_defaults(
    crm: CrmServer,
) -> None:
    olga, bare = await _clients(crm)
    await crm.store.db.write("UPDATE clients SET email = ? WHERE id = ?", ("olga@romashka.ru", olga))
    await crm.store.db.write("UPDATE clients SET email = ? WHERE id = ?", ("anon@example.ru", bare))
    admin = {"ext": "200"}
    box = {
        "address": "inbox@company.test", "password": "x", "imap_host": "127.0.0.1", "imap_port": 1,
        "imap_security": "none", "smtp_host": "127.0.0.1", "smtp_port": 1, "smtp_security": "none",
    }  # fmt: skip
    assert (await call(crm, "POST", "/mailboxes", box, **admin))[0] == 201
    template = {
        "name": "Привет",
        "subject": "Для {{компания|вас}}",
        "body": "{имя|Коллеги}, ждём вас в {{Город|Москве}}.",
    }
    status, made = await call(crm, "POST", "/mail-templates", template, **admin)
    assert status == 201, made
    texts = []
    for client in (olga, bare):
        status, sent = await call(crm, "POST", "/mail", {"client_id": client, "template_id": made["id"]})
        assert status == 202, sent
        texts.append((sent["subject"], sent["body"]))
    assert texts == [("Для Ромашка", "Ольга, ждём вас в Тверь."), ("Для вас", "Коллеги, ждём вас в Москве.")]
