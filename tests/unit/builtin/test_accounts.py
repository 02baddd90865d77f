"""Accounts: sign-in with login and password, sessions that end, throttled guessing, admins' tools."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs
from yarl import URL

from adapters.builtin.routes_accounts import THROTTLE_KEY
from tests.unit.builtin.helpers import LOGINS, CrmServer

PASSWORD = LOGINS["202"][1]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies like a browser (also for 127.0.0.1)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def _sign_in(server: CrmServer, http: aiohttp.ClientSession, login: str, password: str) -> int:
    async with http.post(f"{server.url}/api/crm/session", json={"login": login, "password": password}) as r:
        return r.status


async def test_a_wrong_password_is_refused_with_one_message_for_both_mistakes(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    url = f"{server.url}/api/crm/session"
    async with http.post(url, json={"login": "egor", "password": "не тот пароль совсем"}) as r:
        wrong_password = (r.status, (await r.json())["detail"], "crm_session" in r.cookies)
    async with http.post(url, json={"login": "nobody", "password": PASSWORD}) as r:
        wrong_login = (r.status, (await r.json())["detail"], "crm_session" in r.cookies)
    assert wrong_password == wrong_login == (401, "неверный логин или пароль", False)


async def test_the_login_is_not_case_sensitive(server: CrmServer, browser: aiohttp.ClientSession) -> None:
    assert await _sign_in(server, browser, "EGOR", PASSWORD) == 200


async def test_twenty_wrong_passwords_are_throttled_and_logged(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    statuses: list[int] = []
    retry_after: list[str] = []
    with capture_logs() as logs:
        for _ in range(20):
            body = {"login": "egor", "password": "угадываю пароль наугад"}
            async with http.post(f"{server.url}/api/crm/session", json=body) as r:
                statuses.append(r.status)
                retry_after.append(r.headers.get("Retry-After", ""))
        # the right password does not get through a lock either: it is not even checked
        right = await _sign_in(server, http, "egor", PASSWORD)
    assert statuses[:6] == [401] * 6 and statuses[6:] == [429] * 14
    assert all(int(value) >= 1 for value in retry_after[6:])
    assert right == 429
    failed = [e for e in logs if e["event"] == "auth.sign_in_failed"]
    throttled = [e for e in logs if e["event"] == "auth.sign_in_throttled"]
    assert [e["failures"] for e in failed] == [1, 2, 3, 4, 5, 6] and len(throttled) == 15
    assert all(e["login"] == "egor" and "password" not in e for e in failed + throttled)


async def test_the_wait_doubles_with_each_failure_and_a_success_clears_it(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    throttle = server.app[THROTTLE_KEY]
    clock = Clock(1000.0)
    throttle.by_address.clock = throttle.by_account.clock = clock
    waits = []
    for _ in range(9):
        assert await _sign_in(server, http, "egor", "угадываю пароль наугад") == 401
        waits.append(throttle.wait("127.0.0.1", None))
        clock.now += waits[-1]  # wait out the lock, then fail again
    assert waits == [0, 0, 0, 0, 0, 1, 2, 4, 8]
    assert await _sign_in(server, http, "egor", PASSWORD) == 200
    assert throttle.wait("127.0.0.1", None) == 0


async def test_unknown_logins_count_against_the_address_only(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    throttle = server.app[THROTTLE_KEY]
    for n in range(30):
        await _sign_in(server, http, f"guess{n}", "угадываю пароль наугад")
    assert len(throttle.by_account) == 0 and len(throttle.by_address) == 1


async def test_a_stolen_cookie_is_useless_after_sign_out(
    server: CrmServer, browser: aiohttp.ClientSession, http: aiohttp.ClientSession
) -> None:
    csrf = await server.sign_in(browser, "202")
    stolen = {
        "Cookie": f"crm_session={browser.cookie_jar.filter_cookies(URL(server.url))['crm_session'].value}"
    }
    async with http.get(f"{server.url}/api/crm/me", headers=stolen) as r:
        assert r.status == 200  # the thief's copy works while the session lives
    async with browser.delete(f"{server.url}/api/crm/session", headers=csrf) as r:
        assert r.status == 204
    async with http.get(f"{server.url}/api/crm/me", headers=stolen) as r:
        assert r.status == 401
    async with http.get(f"{server.url}/api/crm/session", headers=stolen) as r:
        assert r.status == 200 and (await r.json()) == {"signed_in": False}


async def test_the_session_id_is_stored_only_as_a_hash(
    server: CrmServer, browser: aiohttp.ClientSession
) -> None:
    await server.sign_in(browser, "202")
    session_id = browser.cookie_jar.filter_cookies(URL(server.url))["crm_session"].value
    stored = await server.store.db.fetch_all("SELECT * FROM sessions")
    assert len(stored) == 1 and session_id not in str(stored)


async def test_a_session_ends_after_its_idle_time(server: CrmServer, browser: aiohttp.ClientSession) -> None:
    clock = Clock(time.time())
    server.store.accounts.clock = clock
    await server.sign_in(browser, "202")
    clock.now += 7 * 3600  # a long lunch: still signed in (idle limit 8 h), and the visit counts
    async with browser.get(f"{server.url}/api/crm/me") as r:
        assert r.status == 200
    clock.now += 8 * 3600 + 1
    async with browser.get(f"{server.url}/api/crm/me") as r:
        assert r.status == 401


async def test_a_session_ends_at_its_absolute_expiry_however_busy(
    server: CrmServer, browser: aiohttp.ClientSession
) -> None:
    clock = Clock(time.time())
    server.store.accounts.clock = clock
    await server.sign_in(browser, "202")
    for _ in range(23):  # a request every hour for a day
        clock.now += 3600
        async with browser.get(f"{server.url}/api/crm/me") as r:
            assert r.status == 200
    clock.now += 3600
    async with browser.get(f"{server.url}/api/crm/me") as r:
        assert r.status == 401


async def test_changing_the_password_ends_every_other_session(
    server: CrmServer, browser: aiohttp.ClientSession
) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as laptop:
        await server.sign_in(laptop, "202")
        csrf = await server.sign_in(browser, "202")
        body = {"current_password": PASSWORD, "new_password": "новый пароль из пяти слов"}
        async with browser.post(f"{server.url}/api/crm/me/password", json=body, headers=csrf) as r:
            assert r.status == 200 and r.cookies["crm_session"].value
        async with laptop.get(f"{server.url}/api/crm/me") as r:
            assert r.status == 401
        async with browser.get(f"{server.url}/api/crm/me") as r:
            assert r.status == 200  # this browser got a fresh session
    assert await _sign_in(server, browser, "egor", PASSWORD) == 401
    assert await _sign_in(server, browser, "egor", "новый пароль из пяти слов") == 200


async def test_a_weak_new_password_is_refused_with_the_reason(
    server: CrmServer, browser: aiohttp.ClientSession
) -> None:
    csrf = await server.sign_in(browser, "202")
    reasons = {}
    for weak in ("короткий", "1234567890123456", "Password2024!!!!", "egor egor egor egor"):
        body = {"current_password": PASSWORD, "new_password": weak}
        async with browser.post(f"{server.url}/api/crm/me/password", json=body, headers=csrf) as r:
            assert r.status == 422
            reasons[weak] = (await r.json())["errors"][0]["message"]
    assert "не короче 15" in reasons["короткий"]
    assert "простой" in reasons["1234567890123456"]
    assert "распространённый" in reasons["Password2024!!!!"]
    assert "логин" in reasons["egor egor egor egor"]


async def test_an_admin_adds_an_employee_who_signs_in_with_the_password_shown_once(
    server: CrmServer, http: aiohttp.ClientSession, browser: aiohttp.ClientSession
) -> None:
    body = {"name": "Олег Новый", "extension": "240", "role": "employee", "login": "oleg"}
    async with http.post(f"{server.url}/api/crm/employees", json=body, headers=server.headers("200")) as r:
        assert r.status == 201
        created = await r.json()
    assert created["token"] and created["password"] and "password_hash" not in created
    assert await _sign_in(server, browser, "oleg", created["password"]) == 200
    async with http.get(f"{server.url}/api/crm/employees", headers=server.headers("200")) as r:
        listed = {e["login"]: e for e in (await r.json())["items"] if e["login"]}
    assert "password" not in listed["oleg"] and listed["oleg"]["active"] is True


async def test_an_admin_reset_ends_the_persons_sessions(
    server: CrmServer, http: aiohttp.ClientSession, browser: aiohttp.ClientSession
) -> None:
    await server.sign_in(browser, "202")
    employee = await server.store.employees.by_extension("202")
    assert employee is not None
    url = f"{server.url}/api/crm/employees/{employee['id']}/password"
    async with http.post(url, json={}, headers=server.headers("200")) as r:
        new_password = (await r.json())["password"]
    async with browser.get(f"{server.url}/api/crm/me") as r:
        assert r.status == 401
    assert await _sign_in(server, http, "egor", new_password) == 200


async def test_deactivation_ends_sessions_and_refuses_the_token(
    server: CrmServer, http: aiohttp.ClientSession, browser: aiohttp.ClientSession
) -> None:
    await server.sign_in(browser, "202")
    employee = await server.store.employees.by_extension("202")
    assert employee is not None
    url = f"{server.url}/api/crm/employees/{employee['id']}"
    async with http.patch(url, json={"active": False}, headers=server.headers("200")) as r:
        assert r.status == 200 and (await r.json())["active"] is False
    async with browser.get(f"{server.url}/api/crm/me") as r:
        assert r.status == 401
    async with http.get(f"{server.url}/api/crm/me", headers=server.headers("202")) as r:
        assert r.status == 401
    assert await _sign_in(server, http, "egor", PASSWORD) == 401


async def test_a_new_token_replaces_the_old_one(server: CrmServer, http: aiohttp.ClientSession) -> None:
    employee = await server.store.employees.by_extension("202")
    assert employee is not None
    url = f"{server.url}/api/crm/employees/{employee['id']}/token"
    async with http.post(url, headers=server.headers("200")) as r:
        token = (await r.json())["token"]
    async with http.get(f"{server.url}/api/crm/me", headers=server.headers("202")) as r:
        assert r.status == 401
    async with http.get(f"{server.url}/api/crm/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200


async def test_the_last_admin_can_be_neither_demoted_nor_deactivated(
    server: CrmServer, http: aiohttp.ClientSession
) -> None:
    admin = await server.store.employees.by_extension("200")
    assert admin is not None
    url = f"{server.url}/api/crm/employees/{admin['id']}"
    for change in ({"active": False}, {"role": "manager"}):
        async with http.patch(url, json=change, headers=server.headers("200")) as r:
            assert r.status == 409


async def test_only_admins_manage_employees(server: CrmServer, http: aiohttp.ClientSession) -> None:
    employee = await server.store.employees.by_extension("203")
    assert employee is not None
    for ext in ("201", "202"):
        for method, path in (("PATCH", ""), ("POST", "/password"), ("POST", "/token")):
            url = f"{server.url}/api/crm/employees/{employee['id']}{path}"
            async with http.request(method, url, json={}, headers=server.headers(ext)) as r:
                assert r.status == 403, (ext, method, path)


async def test_the_cookie_is_secure_when_the_public_address_is_https(tmp_path: object) -> None:
    from pathlib import Path

    from connector.config import HttpSettings
    from tests.unit.builtin.helpers import crm_server

    settings = HttpSettings(public_url="https://crm.example.ru")
    async with crm_server(Path(str(tmp_path)), settings=settings) as server, aiohttp.ClientSession() as http:
        body = {"login": "egor", "password": PASSWORD}
        async with http.post(f"{server.url}/api/crm/session", json=body) as r:
            assert r.cookies["crm_session"]["secure"]


async def test_the_page_asks_whether_it_is_signed_in_without_a_401(
    server: CrmServer, browser: aiohttp.ClientSession
) -> None:
    async with browser.get(f"{server.url}/api/crm/session") as r:
        assert r.status == 200 and (await r.json()) == {"signed_in": False}
    csrf = await server.sign_in(browser, "202")
    async with browser.get(f"{server.url}/api/crm/session") as r:
        body = await r.json()
    assert body["signed_in"] and body["csrf"] == csrf["X-CSRF-Token"] and body["me"]["extension"] == "202"


async def test_a_flood_of_sign_ins_from_many_addresses_queues_a_bounded_number_of_checks() -> None:
    import asyncio

    from adapters.builtin import passwords

    results = await asyncio.gather(
        *(passwords.verify_password(None, f"пароль {n}") for n in range(passwords.MAX_WAITING + 20)),
        return_exceptions=True,
    )
    busy = [r for r in results if isinstance(r, passwords.BusyError)]
    assert len(busy) == 20 and all(r is False for r in results if not isinstance(r, BaseException))
    assert await passwords.verify_password(None, "после наплыва") is False  # the queue drained
