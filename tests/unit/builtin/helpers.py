"""Shared pieces for the built-in CRM tests: call records and a real server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from adapters.builtin import routes
from adapters.builtin.adapter import BuiltinAdapter
from adapters.builtin.db import Target
from adapters.builtin.store import Store
from connector.api.app import create_app
from connector.api.live import LiveHub
from connector.api.recordings import LinkSigner, RecordingLinks
from connector.calls.model import Call, Direction, Disposition, Leg
from connector.config import ApiToken, HttpSettings
from connector.crm import AdapterContext, MemoryState
from connector.settings_schema import Secret

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
SERVICE_TOKEN = "service-token-123456-abcdef"
ADMIN_SERVICE_TOKEN = "admin-service-token-7890-abcdef"

# name, extension, role, token
EMPLOYEES = (
    ("Анна Админ", "200", "admin", "tok-admin-200"),
    ("Марк Менеджер", "201", "manager", "tok-manager-201"),
    ("Егор Сотрудник", "202", "employee", "tok-employee-202"),
    ("Ева Сотрудник", "203", "employee", "tok-employee-203"),
)
# extension → (login, password) for signing in through the pages
LOGINS = {
    "200": ("anna", "синий трамвай едет в парк"),
    "201": ("mark", "зелёный чайник на окне"),
    "202": ("egor", "морской ветер и три чайки"),
    "203": ("eva", "тёплый хлеб по утрам рано"),
}
_HASHES: dict[str, str] = {}


async def give_logins(store: Store) -> None:
    """Give the test employees their logins and passwords (hashed once per test run)."""
    from adapters.builtin.passwords import hash_password

    for ext, (login, password) in LOGINS.items():
        row = await store.employees.by_extension(ext)
        if row is None:
            continue
        if password not in _HASHES:
            _HASHES[password] = await hash_password(password)
        await store.accounts.set_login(row["id"], login)
        await store.accounts.set_password_hash(row["id"], _HASHES[password])


def make_call(
    call_id: str = "1700000000.1",
    client: str = "+79161234567",
    *,
    direction: Direction = Direction.INBOUND,
    answered_by: str | None = "202",
    rang: tuple[str, ...] = ("202",),
    did: str | None = "74951110001",
    start: datetime = T0,
    talk: int = 60,
    recording: str | None = None,
) -> Call:
    """A finished call record as the tracker would emit it."""
    answered_at = start + timedelta(seconds=5) if answered_by else None
    ended = (answered_at or start) + timedelta(seconds=talk if answered_by else 20)
    legs = (Leg(answered_by, answered_at, ended),) if answered_by and answered_at else ()
    return Call(
        id=call_id,
        linkedids=(call_id,),
        direction=direction,
        client=client,
        did=did,
        started_at=start,
        answered_at=answered_at,
        ended_at=ended,
        disposition=Disposition.ANSWERED if answered_by else Disposition.MISSED,
        rang=rang,
        answered_by=answered_by,
        legs=legs,
        recordings=(recording,) if recording else (),
    )


@dataclasses.dataclass
class CrmServer:
    """A running daemon HTTP app with the built-in CRM mounted."""

    url: str
    store: Store
    adapter: BuiltinAdapter
    hub: LiveHub
    links: RecordingLinks
    app: web.Application
    tokens: dict[str, str]  # extension → token

    def headers(self, ext: str) -> dict[str, str]:
        """The Authorization header of the employee at `ext`."""
        return {"Authorization": f"Bearer {self.tokens[ext]}"}

    async def sign_in(self, http: Any, ext: str) -> dict[str, str]:
        """Sign the employee at `ext` in on `http` (its cookie jar keeps the session); CSRF header."""
        login, password = LOGINS[ext]
        async with http.post(f"{self.url}/api/crm/session", json={"login": login, "password": password}) as r:
            assert r.status == 200, await r.text()
            return {"X-CSRF-Token": (await r.json())["csrf"]}


@asynccontextmanager
async def crm_server(
    tmp_path: Path,
    call_control: Any = None,
    settings: HttpSettings | None = None,
    prepare: Callable[[web.Application, Store], None] | None = None,
    target: Target | None = None,
) -> AsyncIterator[CrmServer]:
    """Start the app on an ephemeral loopback port with four employees; stop it afterwards."""
    import aiohttp

    tokens = (
        ApiToken("widget", Secret(SERVICE_TOKEN), ("*",), "service"),
        ApiToken("reports", Secret(ADMIN_SERVICE_TOKEN), ("*",), "admin"),
    )
    settings = dataclasses.replace(settings or HttpSettings(), tokens=tokens)
    recordings_dir = tmp_path / "monitor"
    recordings_dir.mkdir(exist_ok=True)
    async with aiohttp.ClientSession() as session:
        store = Store(target or tmp_path / "crm.db")
        adapter = BuiltinAdapter(AdapterContext("builtin", session, MemoryState()), store)
        await adapter.start()
        tokens = {}
        for name, ext, role, token in EMPLOYEES:
            await store.employees.create(name, ext, role, token)
            tokens[ext] = token
        await give_logins(store)
        hub = LiveHub(maxsize=16)
        links = RecordingLinks(LinkSigner("test-secret"), recordings_dir, ttl=600)
        app = create_app(settings, hub=hub)
        routes.setup(app, store, links=links, call_control=call_control, page_size=20)
        if prepare is not None:  # more parts mounted before the app starts (SMS, ...)
            prepare(app, store)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield CrmServer(f"http://127.0.0.1:{port}", store, adapter, hub, links, app, tokens)
        finally:
            hub.close()
            await runner.cleanup()
            await adapter.aclose()


async def ask(
    http: Any, server: CrmServer, method: str, path: str, ext: str, *, body: Any = None
) -> tuple[int, Any]:
    """One request to the CRM's API (`path` under /api/crm) as the employee at `ext`: status, JSON."""
    async with http.request(
        method, f"{server.url}/api/crm{path}", json=body, headers=server.headers(ext)
    ) as r:
        return r.status, await r.json(content_type=None)
