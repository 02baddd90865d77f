"""Build what delivery needs from the settings: the outbox file and the enabled adapters.

Used by the `outbox` subcommands and available to the service: each adapter gets the shared
HTTP session and its own durable `StateStore` in the outbox file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from connector import logs, registry
from connector.config import Settings
from connector.crm import Adapter, AdapterContext
from connector.errors import StorageError
from connector.sync.outbox import Outbox

log = logs.get_logger(__name__)


def enabled(adapter_settings: Mapping[str, Any]) -> dict[str, Any]:
    """The adapters whose settings do not say `enabled: false`."""
    return {name: s for name, s in adapter_settings.items() if getattr(s, "enabled", True)}


async def open_outbox(settings: Settings) -> Outbox:
    """The outbox file named by the settings (`StorageError` if it cannot be used)."""
    folder = settings.storage.dir
    try:
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    except OSError as exc:  # FileExistsError when it is a file: say so rather than a traceback
        what = "is a file, not a directory" if folder.is_file() else f"cannot be created: {exc.strerror}"
        raise StorageError(f"storage directory {folder} {what} (storage.dir)") from exc
    box = settings.outbox
    return await Outbox.open(
        box.path(settings.storage.dir), synchronous=box.synchronous, busy_timeout=box.busy_timeout
    )


def build_adapters(
    settings: Settings,
    outbox: Outbox,
    session: aiohttp.ClientSession,
    *,
    recording_url: Callable[[str], str] | None = None,
    call_control: Any = None,
) -> dict[str, Adapter]:
    """One adapter per enabled section of `adapters:`, each with its context injected."""
    built: dict[str, Adapter] = {}
    for name, adapter_settings in enabled(settings.adapters).items():
        # Each CRM entry point's click-to-calls count against its own limit (connector.control).
        entry_point = getattr(call_control, "entry_point", None)
        context = AdapterContext(
            name=name,
            session=session,
            state=outbox.state(name),
            recording_url=recording_url or (lambda path: ""),
            call_control=entry_point(name) if entry_point is not None else call_control,
            push_internal=settings.calls.push_internal,
        )
        built[name] = registry.factory(name)(adapter_settings, context)
    return built


async def close_adapters(adapters: Mapping[str, Adapter]) -> None:
    """`aclose()` every adapter; one failing does not stop the others."""
    for name, adapter in adapters.items():
        try:
            await adapter.aclose()
        except Exception:
            # Isolation boundary: shutting down must reach every adapter.
            log.exception("adapter.close_failed", adapter=name)
