"""The REST client against the fake portal: results, every error shape, auth modes, moves, pacing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.bitrix24.auth import BASE_KEY, TOKENS_KEY, OAuthAuth, WebhookAuth
from adapters.bitrix24.client import Bitrix24Client
from adapters.bitrix24.errors import WrongAuthTypeError
from connector.crm import MemoryState
from connector.errors import AuthError, PermanentError, RateLimitedError, TransientError
from connector.sync.ratelimit import RateLimit, TokenBucket
from tests.fakes.bitrix24 import FakeBitrix24
from tests.unit.bitrix24.conftest import FAST, start_portal


def webhook_client(
    portal: FakeBitrix24, session: aiohttp.ClientSession, state: MemoryState, limit: RateLimit = FAST
) -> Bitrix24Client:
    return Bitrix24Client(session, WebhookAuth(portal.webhook_url, state), TokenBucket(limit), timeout=5.0)


def oauth_client(portal: FakeBitrix24, session: aiohttp.ClientSession, state: MemoryState) -> Bitrix24Client:
    auth = OAuthAuth(
        session=session,
        state=state,
        portal=portal.url,
        oauth_url=portal.oauth_url,
        client_id=portal.client_id,
        client_secret=portal.client_secret,
        refresh_token="refresh-initial",
        timeout=5.0,
        adapter="bitrix24",
    )
    return Bitrix24Client(session, auth, TokenBucket(FAST), timeout=5.0)


@pytest.fixture
async def oauth_portal() -> AsyncIterator[FakeBitrix24]:
    fake = await start_portal(auth="oauth")
    yield fake
    await fake.stop()


async def test_call_returns_the_result(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    client = webhook_client(portal, session, MemoryState())
    contact_id = await client.call("crm.contact.add", {"fields": {"NAME": "Иван"}})
    assert portal.contacts[contact_id]["NAME"] == "Иван"


async def test_empty_error_code_is_permanent_with_the_portal_message(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    portal.inject("crm.contact.add", 400, '{"error": "", "error_description": "Required fields are missing"}')
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(PermanentError, match="Required fields are missing"):
        await client.call("crm.contact.add", {"fields": {}})


async def test_error_in_a_200_answer_is_still_an_error(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    portal.inject("crm.lead.add", 200, '{"error": "ERROR_CORE", "error_description": "Lead is locked"}')
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(PermanentError, match="Lead is locked"):
        await client.call("crm.lead.add", {"fields": {}})


async def test_html_error_page_is_transient(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    portal.inject("user.get", 502, "<html><body>Bad Gateway</body></html>", "text/html")
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(TransientError) as caught:
        await client.call("user.get")
    assert not isinstance(caught.value, RateLimitedError)


async def test_one_limit_answer_is_retried_after_a_pause(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    portal.inject(
        "crm.contact.add", 503, '{"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many"}'
    )
    client = webhook_client(portal, session, MemoryState())
    new_id = await client.call("crm.contact.add", {"fields": {"NAME": "Once"}})
    assert [c["NAME"] for c in portal.contacts.values()] == ["Once"]
    assert portal.contacts[new_id]["NAME"] == "Once"


async def test_query_limit_exceeded_is_rate_limited(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    body = '{"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}'
    portal.inject("user.get", 503, body, times=2)
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(RateLimitedError) as caught:
        await client.call("user.get")
    assert caught.value.retry_after is not None


async def test_html_limit_page_is_rate_limited(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    page = "<html><h1>503 Service Temporarily Unavailable</h1></html>"
    portal.inject("user.get", 503, page, "text/html", times=2)
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(RateLimitedError):
        await client.call("user.get")


async def test_operation_time_limit_waits_longer(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    body = '{"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"}'
    portal.inject("crm.deal.list", 429, body)
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(RateLimitedError) as caught:
        await client.call("crm.deal.list")
    assert caught.value.retry_after == 60.0


async def test_revoked_webhook_is_an_auth_error(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    url = portal.webhook_url
    portal.webhook_code = "a-new-code"  # the administrator replaced the webhook
    client = Bitrix24Client(session, WebhookAuth(url, MemoryState()), TokenBucket(FAST))
    with pytest.raises(AuthError, match="INVALID_CREDENTIALS"):
        await client.call("user.get")


async def test_error_messages_never_contain_the_webhook_code(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    url, code = portal.webhook_url, portal.webhook_code
    await portal.stop()  # connection refused: aiohttp's own message would name the URL
    client = Bitrix24Client(session, WebhookAuth(url, MemoryState()), TokenBucket(FAST))
    with pytest.raises(TransientError) as caught:
        await client.call("user.get")
    assert code not in str(caught.value)


async def test_a_webhook_is_refused_exactly_the_app_only_telephony_methods(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = webhook_client(portal, session, MemoryState())
    call = {"USER_ID": 11, "PHONE_NUMBER": "79161234567", "TYPE": 2}
    for method, params in (
        ("telephony.externalcall.register", call),
        ("telephony.externalcall.finish", {"CALL_ID": "x", "USER_ID": 11, "DURATION": 0}),
        ("telephony.externalLine.add", {"NUMBER": "74951110001"}),
        ("telephony.externalLine.get", {}),
    ):
        with pytest.raises(WrongAuthTypeError, match="OAuth app"):
            await client.call(method, params)
    # documented with webhook examples: these work
    assert (
        await client.call("telephony.externalcall.searchCrmEntities", {"PHONE_NUMBER": "79161234567"}) == []
    )
    assert await client.call("telephony.externalcall.show", {"CALL_ID": "unknown", "USER_ID": 11}) is False


async def test_unknown_method_is_permanent(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(PermanentError, match="ERROR_METHOD_NOT_FOUND"):
        await client.call("crm.nothing.here")


async def test_unreachable_portal_is_transient(session: aiohttp.ClientSession) -> None:
    fake = await start_portal()
    await fake.stop()
    client = webhook_client(fake, session, MemoryState())
    with pytest.raises(TransientError):
        await client.call("user.get")


async def test_portal_move_is_followed_and_remembered(session: aiohttp.ClientSession) -> None:
    old, new = await start_portal(), await start_portal()
    try:
        old.moved_to = new.url
        state = MemoryState()
        client = webhook_client(old, session, state)
        await client.call("crm.contact.add", {"fields": {"NAME": "Moved"}})
        assert [c["NAME"] for c in new.contacts.values()] == ["Moved"]
        assert str(await state.get(BASE_KEY)).startswith(new.url)
    finally:
        await old.stop()
        await new.stop()


async def test_oauth_gets_a_token_with_the_refresh_token_and_stores_it(
    oauth_portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    client = oauth_client(oauth_portal, session, state)
    await client.call("user.get")
    stored = await state.get(TOKENS_KEY)
    assert isinstance(stored, dict)
    assert stored["refresh_token"] in oauth_portal.refresh_tokens
    assert stored["access_token"] in oauth_portal.access_tokens


async def test_expired_token_is_refreshed_and_the_call_retried(
    oauth_portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    client = oauth_client(oauth_portal, session, state)
    await client.call("user.get")
    oauth_portal.expire_tokens()
    new_id = await client.call("crm.contact.add", {"fields": {"NAME": "After expiry"}})
    assert oauth_portal.contacts[new_id]["NAME"] == "After expiry"
    assert oauth_portal.refreshes == 2


async def test_concurrent_expired_requests_refresh_once(
    oauth_portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    client = oauth_client(oauth_portal, session, state)
    await client.call("user.get")
    oauth_portal.expire_tokens()
    await asyncio.gather(*(client.call("user.get") for _ in range(5)))
    assert oauth_portal.refreshes == 2


async def test_used_refresh_token_is_an_auth_error(
    oauth_portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    oauth_portal.refresh_tokens.clear()  # someone else used it: single use
    client = oauth_client(oauth_portal, session, MemoryState())
    with pytest.raises(AuthError, match="invalid_grant"):
        await client.call("user.get")


async def test_batch_chains_results(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    client = webhook_client(portal, session, MemoryState())
    answer = await client.batch(
        {
            "contact": ("crm.contact.add", {"fields": {"NAME": "Пётр"}}),
            "deal": ("crm.deal.add", {"fields": {"TITLE": "+79161234567", "CONTACT_ID": "$result[contact]"}}),
        }
    )
    deal = portal.deals[answer.results["deal"]]
    assert deal["CONTACT_ID"] == str(answer.results["contact"])


async def test_batch_reports_errors_by_key(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    client = webhook_client(portal, session, MemoryState())
    answer = await client.batch({"bad": ("crm.contact.get", {"id": 999999}), "ok": ("user.get", {})})
    assert answer.errors["bad"]["error_description"] == "Not found"
    assert "ok" in answer.results


async def test_batch_refuses_more_than_fifty_commands(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(ValueError, match="at most 50"):
        await client.batch({f"c{i}": ("user.get", {}) for i in range(51)})


async def test_list_all_reads_every_page(portal: FakeBitrix24, session: aiohttp.ClientSession) -> None:
    for n in range(120):
        portal.add_user(1000 + n, str(500 + n))
    client = webhook_client(portal, session, MemoryState())
    users = await client.list_all("user.get", {"filter": {"ACTIVE": True}})
    assert len(users) == len(portal.users)


async def test_pacing_below_the_portal_limit_is_never_refused(session: aiohttp.ClientSession) -> None:
    fake = await start_portal(rate=50.0, burst=5)
    try:
        client = webhook_client(fake, session, MemoryState(), RateLimit(40.0, 4, 4))
        await asyncio.gather(*(client.call("user.get") for _ in range(30)))
        assert fake.limited == 0
    finally:
        await fake.stop()


async def test_pacing_at_the_portal_limit_delivers_every_request_once(session: aiohttp.ClientSession) -> None:
    fake = await start_portal(rate=50.0, burst=5)
    try:
        client = webhook_client(fake, session, MemoryState(), RateLimit(50.0, 5, 4))
        for n in range(30):
            await client.call("crm.contact.add", {"fields": {"NAME": f"c{n}"}})
        assert sorted(c["NAME"] for c in fake.contacts.values()) == sorted(f"c{n}" for n in range(30))
    finally:
        await fake.stop()


async def test_without_pacing_the_portal_refuses_the_burst(session: aiohttp.ClientSession) -> None:
    fake = await start_portal(rate=50.0, burst=5)
    try:
        client = webhook_client(fake, session, MemoryState(), RateLimit(10_000.0, 10_000, 4))
        results = await asyncio.gather(*(client.call("user.get") for _ in range(30)), return_exceptions=True)
        assert any(isinstance(r, RateLimitedError) for r in results)
    finally:
        await fake.stop()


async def test_error_page_echoing_the_url_does_not_leak_the_webhook_code(
    portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    page = f"<html><body>502 Bad Gateway for {portal.webhook_url}user.get.json</body></html>"
    portal.inject("user.get", 502, page, "text/html")
    client = webhook_client(portal, session, MemoryState())
    with pytest.raises(TransientError) as caught:
        await client.call("user.get")
    assert portal.webhook_code not in str(caught.value)


async def test_token_about_to_expire_is_refreshed_before_the_request(
    oauth_portal: FakeBitrix24, session: aiohttp.ClientSession
) -> None:
    state = MemoryState()
    client = oauth_client(oauth_portal, session, state)
    await client.call("user.get")
    tokens = await state.get(TOKENS_KEY)
    assert isinstance(tokens, dict)
    await state.set(TOKENS_KEY, {**tokens, "expires_at": 0})  # the stored expiry has passed
    await client.call("user.get")
    assert (oauth_portal.refreshes, oauth_portal.expired_refusals) == (2, 0)
