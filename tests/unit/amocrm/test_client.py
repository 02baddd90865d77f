"""The HTTP client: amoCRM's answers mapped to the connector's error kinds, and its pacing."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from adapters.amocrm.auth import LongLivedToken, OAuthTokens
from adapters.amocrm.client import AmoClient
from adapters.amocrm.errors import EntityNotFound, Forbidden, ValidationFailed
from adapters.amocrm.settings import AuthSettings
from connector.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connector.settings_schema import Secret
from connector.sync.outbox import Outbox
from connector.sync.ratelimit import RateLimit, TokenBucket
from tests.fakes.amocrm import FakeAmoCrm


def client_for(fake: FakeAmoCrm, session: aiohttp.ClientSession, limit: RateLimit | None = None) -> AmoClient:
    bucket = TokenBucket(limit or RateLimit(1000.0, 100))
    return AmoClient(session, fake.url, LongLivedToken(fake.issue_long_lived()), bucket, timeout=5.0)


async def test_no_match_204_is_none(fake: FakeAmoCrm, session: aiohttp.ClientSession) -> None:
    client = client_for(fake, session)
    assert await client.get("/api/v4/contacts", {"query": "+70000000000"}) is None


async def test_over_the_limit_is_rate_limited_with_pause(
    fake: FakeAmoCrm, session: aiohttp.ClientSession
) -> None:
    fake.rate_limit = 2
    client = client_for(fake, session)
    results = await asyncio.gather(*(client.get("/api/v4/users") for _ in range(5)), return_exceptions=True)
    refused = [r for r in results if isinstance(r, RateLimitedError)]
    assert refused
    assert refused[0].retry_after == 1.0


async def test_bad_gateway_page_is_transient(fake: FakeAmoCrm, session: aiohttp.ClientSession) -> None:
    fake.fail_next(502)
    with pytest.raises(TransientError):
        await client_for(fake, session).get("/api/v4/users")


async def test_server_error_is_transient(fake: FakeAmoCrm, session: aiohttp.ClientSession) -> None:
    fake.fail_next(500, body='{"title": "Internal Server Error", "status": 500}')
    with pytest.raises(TransientError, match="Internal Server Error"):
        await client_for(fake, session).get("/api/v4/users")


async def test_users_without_admin_rights_is_forbidden(
    fake: FakeAmoCrm, session: aiohttp.ClientSession
) -> None:
    fake.admin = False
    with pytest.raises(Forbidden, match="not an administrator"):
        await client_for(fake, session).get("/api/v4/users")


async def test_account_unpaid_is_an_auth_error(fake: FakeAmoCrm, session: aiohttp.ClientSession) -> None:
    fake.fail_next(402, body='{"title": "Payment Required", "status": 402}')
    with pytest.raises(AuthError, match="Payment Required"):
        await client_for(fake, session).get("/api/v4/users")


async def test_null_in_body_is_validation_failure_naming_path(
    fake: FakeAmoCrm, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await client_for(fake, session).post("/api/v4/contacts", [{"name": None}])
    assert caught.value.problems[0]["path"] == "0.name"
    assert isinstance(caught.value, PermanentError)


async def test_call_for_unknown_phone_is_entity_not_found(
    fake: FakeAmoCrm, session: aiohttp.ClientSession
) -> None:
    call = {"direction": "inbound", "duration": 5, "source": "MikoPBX", "phone": "+79990000000"}
    with pytest.raises(EntityNotFound, match="Entity not found"):
        await client_for(fake, session).post("/api/v4/calls", [call])
    assert fake.calls == []


async def test_refused_connection_is_transient(session: aiohttp.ClientSession) -> None:
    fake = await FakeAmoCrm().start()
    client = client_for(fake, session)
    await fake.close()
    with pytest.raises(TransientError, match="unreachable"):
        await client.get("/api/v4/users")


async def test_unanswered_token_request_times_out_as_transient(
    fake: FakeAmoCrm, session: aiohttp.ClientSession, outbox: Outbox
) -> None:
    fake.token_gate = asyncio.Event()  # never set: amoCRM does not answer
    auth = AuthSettings(
        client_id=fake.client_id,
        client_secret=Secret(fake.client_secret),
        redirect_uri=fake.redirect_uri,
        auth_code=Secret(fake.issue_code()),
    )
    tokens = OAuthTokens(session, fake.url, auth, outbox.state("amocrm"), timeout=0.2)
    with pytest.raises(TransientError):
        await tokens.access_token()
    fake.token_gate.set()


async def test_default_pacing_never_trips_the_real_limit(
    fake: FakeAmoCrm, session: aiohttp.ClientSession
) -> None:
    client = client_for(fake, session, RateLimit(6.0, 1))
    await asyncio.gather(*(client.get("/api/v4/contacts", {"query": f"+7916{i:07d}"}) for i in range(16)))
    assert [h.status for h in fake.hits].count(429) == 0
    assert len(fake.hits) == 16
