"""Browser tests: Debian's chromium driven by Playwright against a real server on 127.0.0.1.

They skip only when /usr/bin/chromium is missing on a developer's machine; under CI=true a
missing browser fails them instead. Each test saves screenshots under tests/artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.builtin.helpers import CrmServer, crm_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


def _need_browser() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("/usr/bin/chromium is missing (run `make system-deps`)")
    pytest.skip("/usr/bin/chromium is missing")


@pytest.fixture
async def crm(tmp_path: Path) -> AsyncIterator[CrmServer]:
    """The daemon's HTTP app with the built-in CRM, on loopback."""
    async with crm_server(tmp_path) as running:
        yield running


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """A fresh chromium page (headless); its last state is saved as a screenshot."""
    _need_browser()
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        context = await browser.new_context(locale="ru-RU", viewport={"width": 1400, "height": 900})
        opened = await context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield opened
        finally:
            await opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
            await context.close()
            await browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"
