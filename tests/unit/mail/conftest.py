"""Fixtures for the mailbox tests: real Dovecot and aiosmtpd on loopback, the CRM on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.unit.builtin.helpers import CrmServer, crm_server
from tests.unit.mail.servers import Dovecot, Smtp, dovecot_server, smtp_server


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot with one user, shared by a module's tests (each test uses its own folder)."""
    with dovecot_server() as running:
        yield running


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    """An SMTP server recording what arrives."""
    with smtp_server() as running:
        yield running


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[CrmServer]:
    """The HTTP app with the CRM (and its mail worker) mounted, on 127.0.0.1."""
    async with crm_server(tmp_path) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session."""
    async with aiohttp.ClientSession() as session:
        yield session
