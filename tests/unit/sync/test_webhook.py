"""The webhook adapter's HTTP client: every answer mapped to the error kind that says what to do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.webhook.client import WebhookClient, retry_after, sign
from connector.errors import AuthError, PermanentError, RateLimitedError, TransientError
from tests.fakes.webhook_server import WebhookServer

SECRET = "a-webhook-secret-of-some-length"


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def client(
    session: aiohttp.ClientSession, url: str = "http://127.0.0.1:9/hook?token=x", timeout: float = 2.0
) -> WebhookClient:
    return WebhookClient(session, url, SECRET, timeout, "webhook")


async def test_2xx_is_success(session: aiohttp.ClientSession) -> None:
    client(session).check(204, "", {})


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
async def test_server_errors_are_transient(session: aiohttp.ClientSession, status: int) -> None:
    with pytest.raises(TransientError):
        client(session).check(status, "oops", {})


async def test_429_is_rate_limited_with_retry_after(session: aiohttp.ClientSession) -> None:
    with pytest.raises(RateLimitedError) as caught:
        client(session).check(429, "<html>slow down</html>", {"Retry-After": "7"})
    assert caught.value.retry_after == 7.0


@pytest.mark.parametrize("status", [401, 403])
async def test_401_and_403_are_auth_errors(session: aiohttp.ClientSession, status: int) -> None:
    with pytest.raises(AuthError):
        client(session).check(status, "no", {})


async def test_other_4xx_is_permanent_with_the_text_and_no_query_string(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(PermanentError) as caught:
        client(session).check(422, "phone is invalid", {})
    assert str(caught.value) == "http://127.0.0.1:9/hook answered HTTP 422: phone is invalid"


async def test_redirect_is_permanent_and_names_the_target(session: aiohttp.ClientSession) -> None:
    with pytest.raises(PermanentError, match=r"redirect to https://new\.example"):
        client(session).check(302, "", {"Location": "https://new.example/hook"})


async def test_connection_refused_is_transient(session: aiohttp.ClientSession) -> None:
    with pytest.raises(TransientError):
        await client(session, "http://127.0.0.1:9/hook").post(b"{}", key="k", event="call.finished")


async def test_slow_receiver_is_a_transient_timeout(session: aiohttp.ClientSession) -> None:
    server = WebhookServer(SECRET, delay=5.0)
    await server.start()
    try:
        with pytest.raises(TransientError):
            await client(session, server.url, timeout=0.1).post(b"{}", key="k", event="call.finished")
    finally:
        await server.stop()


async def test_signature_is_hmac_sha256_of_the_body() -> None:
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("Wed, 21 Oct 2015 07:28:30 GMT", 10.0), ("soon", None), (None, None)],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    assert retry_after(header, now=1445412500.0) == seconds
