"""The daemon's HTTP app as the service builds it: one link signer for adapters and pages."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from connector import config
from connector.api.health import HealthSources
from connector.service import Service, create_http_app

MINIMAL = """
ami: {{username: crm, secret: s}}
storage: {{dir: {state}, recordings_dir: {monitor}}}
adapters:
  builtin: {{enabled: true}}
"""


async def test_a_recording_link_given_to_a_crm_plays_from_the_daemon(tmp_path: Path) -> None:
    monitor = tmp_path / "monitor"
    (monitor / "2026" / "11").mkdir(parents=True)
    recording = monitor / "2026" / "11" / "call.wav"
    recording.write_bytes(b"RIFF0000WAVE")
    settings = config.loads(MINIMAL.format(state=tmp_path / "state", monitor=monitor))
    service = Service(settings)
    link = service._crm_link(str(recording))
    app = create_http_app(settings, HealthSources(), {}, service.links, service.control)
    async with TestClient(TestServer(app)) as client:
        response = await client.get(link)
        assert (response.status, await response.read()) == (200, b"RIFF0000WAVE")


async def test_a_crm_link_outlives_the_pages_link(tmp_path: Path) -> None:
    settings = config.loads(MINIMAL.format(state=tmp_path / "state", monitor=tmp_path))
    service = Service(settings)
    pages = service.links.url(str(tmp_path / "a.wav"))
    crm = service._crm_link(str(tmp_path / "a.wav"))
    assert _expiry(crm) - _expiry(pages) >= settings.http.crm_link_ttl - settings.http.recording_link_ttl - 5


def _expiry(link: str) -> int:
    from urllib.parse import parse_qs, urlsplit

    return int(parse_qs(urlsplit(link).query)["exp"][0])
