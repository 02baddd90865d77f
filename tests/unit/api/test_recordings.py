"""Recordings: signed expiring links, confinement to the folder, Range requests, access rules."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from connector.api import recordings
from connector.api.app import create_app
from connector.api.auth import Principal
from connector.api.recordings import LinkSigner, RecordingLinks
from connector.config import ApiToken, HttpSettings
from connector.settings_schema import Secret
from tests.unit.api.conftest import ServeApp

AUDIO = bytes(range(256)) * 40  # 10 240 bytes


class Clock:
    """A settable clock for link expiry."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "monitor"
    (folder / "2026" / "11").mkdir(parents=True)
    (folder / "2026" / "11" / "call.mp3").write_bytes(AUDIO)
    (tmp_path / "secret.txt").write_text("outside")
    return folder


def _app(links: RecordingLinks, allow: bool = False) -> web.Application:
    tokens = (ApiToken("own", Secret("tok-own-1234-0123456789"), ("202",), "service"),)
    app = create_app(HttpSettings(tokens=tokens))

    async def access(principal: Principal, rel: str) -> bool:
        return allow

    recordings.setup(app, links, access)
    return app


def test_a_signature_expires() -> None:
    clock = Clock()
    signer = LinkSigner("k", clock)
    query = dict(part.split("=") for part in signer.sign("a.mp3", 60).split("&"))
    clock.now += 61
    assert not signer.verify("a.mp3", query["exp"], query["sig"])


def test_a_signature_is_bound_to_its_path() -> None:
    signer = LinkSigner("k")
    query = dict(part.split("=") for part in signer.sign("a.mp3", 60).split("&"))
    assert signer.verify("a.mp3", query["exp"], query["sig"]) and not signer.verify(
        "b.mp3", query["exp"], query["sig"]
    )


def test_a_file_outside_the_folder_gets_no_link(root: Path) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    assert links.url(root.parent / "secret.txt") == "" and links.url(root / ".." / "secret.txt") == ""


async def test_a_signed_link_serves_the_file_without_a_token(
    root: Path, serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links))
    async with http.get(url + links.url(root / "2026/11/call.mp3")) as r:
        assert r.status == 200 and await r.read() == AUDIO and r.content_type == "audio/mpeg"


async def test_a_range_request_gets_206_with_that_slice(
    root: Path, serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links))
    async with http.get(url + links.url(root / "2026/11/call.mp3"), headers={"Range": "bytes=100-199"}) as r:
        assert r.status == 206 and await r.read() == AUDIO[100:200]
        assert r.headers["Content-Range"] == f"bytes 100-199/{len(AUDIO)}"


async def test_an_expired_link_is_refused(root: Path, serve: ServeApp, http: aiohttp.ClientSession) -> None:
    clock = Clock()
    links = RecordingLinks(LinkSigner("k", clock), root, ttl=10)
    url = await serve(_app(links))
    link = links.url(root / "2026/11/call.mp3")
    clock.now += 11
    async with http.get(url + link) as r:
        assert r.status == 401 and r.content_type == "application/problem+json"


async def test_a_tampered_path_is_refused(root: Path, serve: ServeApp, http: aiohttp.ClientSession) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links))
    link = links.url(root / "2026/11/call.mp3").replace("call.mp3", "other.mp3")
    async with http.get(url + link) as r:
        assert r.status == 401


async def test_a_symlink_out_of_the_folder_is_not_served(
    root: Path, serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    (root / "escape.mp3").symlink_to(root.parent / "secret.txt")
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links, allow=True))
    async with http.get(url + links.url(root / "escape.mp3")) as r:
        assert r.status == 404


async def test_a_user_not_allowed_to_hear_it_gets_403(
    root: Path, serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links, allow=False))
    headers = {"Authorization": "Bearer tok-own-1234-0123456789"}
    async with http.get(f"{url}/recordings/2026/11/call.mp3", headers=headers) as r:
        assert r.status == 403


async def test_an_allowed_user_hears_it_without_a_link(
    root: Path, serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links, allow=True))
    headers = {"Authorization": "Bearer tok-own-1234-0123456789"}
    async with http.get(f"{url}/recordings/2026/11/call.mp3", headers=headers) as r:
        assert r.status == 200 and await r.read() == AUDIO


async def test_a_name_announced_without_extension_finds_the_converted_file(
    root: Path, serve: ServeApp, http: aiohttp.ClientSession
) -> None:
    links = RecordingLinks(LinkSigner("k"), root)
    url = await serve(_app(links))
    async with http.get(url + links.url(root / "2026/11/call")) as r:
        assert r.status == 200 and await r.read() == AUDIO
