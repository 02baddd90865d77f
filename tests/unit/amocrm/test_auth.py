"""OAuth2 with single-use refresh tokens: exchanged once, rotated durably, never spent twice."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from adapters.amocrm.adapter import AmoCrmAdapter
from adapters.amocrm.auth import ROTATION_KEY, STATE_KEY, OAuthTokens, jwt_expiry
from adapters.amocrm.settings import AuthSettings
from connector.crm import AdapterContext, StateStore
from connector.errors import AuthError
from connector.settings_schema import Secret
from connector.sync.outbox import Outbox
from tests.fakes.amocrm import FakeAmoCrm
from tests.unit.amocrm.conftest import CLIENT, Build, settings_for


def tokens_for(fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox, **kw: object) -> OAuthTokens:
    auth = AuthSettings(
        client_id=fake.client_id,
        client_secret=Secret(fake.client_secret),
        redirect_uri=fake.redirect_uri,
        auth_code=Secret(kw.pop("code", None) or fake.issue_code()),  # type: ignore[arg-type]
    )
    return OAuthTokens(session, fake.url, auth, outbox.state("amocrm"), timeout=5.0, **kw)  # type: ignore[arg-type]


async def test_authorization_code_is_exchanged_and_tokens_stored(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    await build()
    stored = await outbox.state("amocrm").get(STATE_KEY)
    assert stored["refresh_token"] in fake.valid_refresh_tokens()


async def test_restart_uses_stored_tokens_not_the_spent_code(fake: FakeAmoCrm, build: Build) -> None:
    settings = settings_for(fake)
    await build(settings)
    again = await build(settings)  # same config, same state: the code was single-use
    assert await again.lookup(CLIENT) is None


async def test_expired_access_token_is_refreshed_and_request_retried(fake: FakeAmoCrm, build: Build) -> None:
    fake.add_contact("Иван", [CLIENT])
    adapter = await build()
    fake.expire_access_tokens()
    contact = await adapter.lookup(CLIENT)
    assert contact is not None


async def test_refresh_stores_the_new_refresh_token_and_burns_the_old(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    adapter = await build()
    old = (await outbox.state("amocrm").get(STATE_KEY))["refresh_token"]
    fake.expire_access_tokens()
    await adapter.lookup(CLIENT)
    new = (await outbox.state("amocrm").get(STATE_KEY))["refresh_token"]
    assert new != old
    assert fake.valid_refresh_tokens() == {new}


async def test_concurrent_401s_rotate_the_refresh_token_once(fake: FakeAmoCrm, build: Build) -> None:
    adapter = await build()
    fake.expire_access_tokens()
    phones = [f"+7916000000{i}" for i in range(8)]
    results = await asyncio.gather(*(adapter.lookup(p) for p in phones))
    assert results == [None] * 8
    assert len([h for h in fake.hits if h.path == "/oauth2/access_token"]) == 2  # code, then one refresh


async def test_revoked_refresh_token_parks_adapter_with_reauthorise_hint(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    adapter = await build()
    stored = await outbox.state("amocrm").get(STATE_KEY)
    await outbox.state("amocrm").set(STATE_KEY, {**stored, "refresh_token": "ref-revoked"})
    adapter.credentials._cached = None  # type: ignore[union-attr]  # another process rewrote it
    fake.expire_access_tokens()
    with pytest.raises(AuthError, match="issue a new authorization code"):
        await adapter.lookup(CLIENT)


async def test_new_code_in_config_reauthorises(fake: FakeAmoCrm, build: Build, outbox: Outbox) -> None:
    settings = settings_for(fake)
    await build(settings)
    await outbox.state("amocrm").set(
        STATE_KEY, {"refresh_token": "ref-dead", "access_token": "x", "expires_at": 0}
    )
    renewed = dataclasses.replace(
        settings, auth=dataclasses.replace(settings.auth, auth_code=Secret(fake.issue_code()))
    )
    adapter = await build(renewed)
    assert await adapter.lookup(CLIENT) is None


async def test_spent_code_without_tokens_is_an_auth_error(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    settings = settings_for(fake)
    await build(settings)
    await outbox.state("amocrm").delete(STATE_KEY)
    with pytest.raises(AuthError, match="authorization code"):
        await build(settings)


async def test_cancelled_request_during_refresh_still_saves_new_tokens(
    fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox
) -> None:
    tokens = tokens_for(fake, session, outbox)
    await tokens.access_token()
    old = (await outbox.state("amocrm").get(STATE_KEY))["refresh_token"]
    fake.token_gate = asyncio.Event()
    fake.token_arrived.clear()
    waiter = asyncio.create_task(tokens.refresh(await tokens.access_token()))
    await fake.token_arrived.wait()  # amoCRM has the refresh request: the old token is being spent
    waiter.cancel()
    fake.token_gate.set()
    await tokens.aclose()
    stored = await outbox.state("amocrm").get(STATE_KEY)
    assert waiter.cancelled()
    assert stored["refresh_token"] != old
    assert fake.valid_refresh_tokens() == {stored["refresh_token"]}


async def test_token_near_expiry_is_refreshed_before_use(
    fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox
) -> None:
    now = [1_000_000.0]
    tokens = tokens_for(fake, session, outbox, clock=lambda: now[0])
    first = await tokens.access_token()
    now[0] += fake.access_ttl - 60  # inside the 300 s refresh margin
    assert await tokens.access_token() != first


async def test_long_lived_token_needs_no_token_endpoint(fake: FakeAmoCrm, build: Build) -> None:
    auth = AuthSettings(mode="long_lived", long_lived_token=Secret(fake.issue_long_lived()))
    adapter = await build(dataclasses.replace(settings_for(fake), auth=auth))
    assert await adapter.lookup(CLIENT) is None
    assert not [h for h in fake.hits if h.path == "/oauth2/access_token"]


async def test_refused_long_lived_token_is_an_auth_error(fake: FakeAmoCrm, build: Build) -> None:
    auth = AuthSettings(mode="long_lived", long_lived_token=Secret("eyJ.revoked"))
    with pytest.raises(AuthError):
        await build(dataclasses.replace(settings_for(fake), auth=auth))


async def test_tokens_never_appear_in_logs(
    fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox
) -> None:
    settings = settings_for(fake)
    context = AdapterContext("amocrm", session, outbox.state("amocrm"))
    with capture_logs() as logs:
        adapter = AmoCrmAdapter(settings, context)
        await adapter.start()
        fake.expire_access_tokens()
        await adapter.lookup(CLIENT)
    stored = await outbox.state("amocrm").get(STATE_KEY)
    text = repr(logs)
    for secret in (
        stored["access_token"],
        stored["refresh_token"],
        settings.auth.auth_code.get(),
        fake.client_secret,
    ):
        assert secret not in text


async def test_refusal_after_an_interrupted_refresh_says_so(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    adapter = await build()
    state = outbox.state("amocrm")
    stored = await state.get(STATE_KEY)
    await state.set(STATE_KEY, {**stored, "refresh_token": "ref-spent-by-the-lost-answer"})
    await state.set(ROTATION_KEY, {"started_at": 1.0})  # we died while amoCRM was answering
    adapter.credentials._cached = None  # type: ignore[union-attr]
    fake.expire_access_tokens()
    with pytest.raises(AuthError, match="interrupted before its answer was saved"):
        await adapter.lookup(CLIENT)


async def test_successful_refresh_clears_the_rotation_marker(
    fake: FakeAmoCrm, build: Build, outbox: Outbox
) -> None:
    adapter = await build()
    fake.expire_access_tokens()
    await adapter.lookup(CLIENT)
    assert await outbox.state("amocrm").get(ROTATION_KEY) is None


class RacingState:
    """The real SQLite state, but another process rotates the tokens right after our next read."""

    def __init__(self, inner: StateStore, other: OAuthTokens) -> None:
        self.inner, self.other, self.armed = inner, other, False

    async def get(self, key: str) -> Any | None:
        value = await self.inner.get(key)
        if key == STATE_KEY and self.armed:
            self.armed = False
            await self.other.refresh(value["access_token"])
        return value

    async def set(self, key: str, value: Any) -> None:
        await self.inner.set(key, value)

    async def delete(self, key: str) -> None:
        await self.inner.delete(key)


async def test_rotation_by_another_process_is_adopted_not_fatal(
    fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox
) -> None:
    code = fake.issue_code()
    theirs = tokens_for(fake, session, outbox, code=code)
    await theirs.access_token()
    racing = RacingState(outbox.state("amocrm"), theirs)
    auth = AuthSettings(
        client_id=fake.client_id,
        client_secret=Secret(fake.client_secret),
        redirect_uri=fake.redirect_uri,
        auth_code=Secret(code),
    )
    ours = OAuthTokens(session, fake.url, auth, racing, timeout=5.0)
    spent = await ours.access_token()
    racing.armed = True
    await ours.refresh(spent)  # we read the old tokens, they rotate, our refresh token is refused
    assert await ours.access_token() == await theirs.access_token()
    assert len(fake.valid_refresh_tokens()) == 1


async def test_expired_long_lived_token_is_refused_before_asking_amocrm(
    fake: FakeAmoCrm, build: Build
) -> None:
    auth = AuthSettings(mode="long_lived", long_lived_token=Secret(fake.issue_long_lived(ttl=-60)))
    with pytest.raises(AuthError, match="long-lived amoCRM token has expired"):
        await build(dataclasses.replace(settings_for(fake), auth=auth))
    assert fake.hits == []


def test_expiry_is_read_from_the_jwt(fake: FakeAmoCrm) -> None:
    token = fake.issue_long_lived(ttl=3600)
    expiry = jwt_expiry(token)
    assert expiry is not None and 3500 < expiry - time.time() <= 3600
