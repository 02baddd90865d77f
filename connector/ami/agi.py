"""The FastAGI endpoint the dialplan calls before the incoming route dials (pre-dial interception).

The dialplan runs ``AGI(agi://<host>:<port>/interception,<DID>)`` (see
config/asterisk/crm-interception.conf). The answer is channel variables: ``CRM_RESPONSIBLE``
(the extension), ``CRM_INTERCEPT_DIAL`` (what to dial), ``CRM_INTERCEPT_SECONDS`` (how long) —
all empty when the call is not intercepted — and ``CRM_INTERCEPT_REASON`` (why, for the logs).

Built on panoramisk's FastAGI `Application` (routes, `Request.send_command`), with its header
reader replaced: panoramisk reads the AGI environment with no size limit and spins forever on a
connection closed early. Here the whole exchange, headers included, has a deadline of
`lookup_timeout` plus a small margin, so a slow CRM never holds a caller, and every connection
task is owned and cancelled on `stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import OrderedDict
from typing import Any

from panoramisk import fast_agi

from connector import logs
from connector.routing import Decision, Interception

log = logs.get_logger(__name__)

ROUTE = "interception"
MAX_HEADER_BYTES = 16 * 1024
MAX_CONNECTIONS = 256
COMMAND_MARGIN = 1.0  # seconds for the AGI commands around the lookup (they are local and fast)


class AgiCommandError(Exception):
    """Asterisk refused an AGI command or the channel hung up."""


class _Application(fast_agi.Application):  # type: ignore[misc]
    """panoramisk's FastAGI application with a bounded, deadline-limited request reader."""

    def __init__(self, deadline: float) -> None:
        super().__init__(default_encoding="utf-8", loop=asyncio.get_running_loop())
        self.deadline = deadline

    async def handler(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one AGI request; the connection is always closed within the deadline."""
        try:
            async with asyncio.timeout(self.deadline):
                headers = await read_environment(reader)
                route = self._route.get(headers.get("agi_network_script", "").strip("/"))
                if route is None:
                    log.warning("agi.no_route", script=headers.get("agi_network_script", ""))
                    return
                await route(fast_agi.Request(self, headers, reader, writer, self.default_encoding))
        except TimeoutError:
            log.warning("agi.deadline", seconds=self.deadline)
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            AgiCommandError,
        ) as exc:
            log.info("agi.closed_early", reason=str(exc) or type(exc).__name__)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()


async def read_environment(reader: asyncio.StreamReader) -> OrderedDict[str, str]:
    """The AGI environment (`agi_*: value` lines up to a blank line), at most 16 KiB."""
    raw = await reader.readuntil(b"\n\n")
    if len(raw) > MAX_HEADER_BYTES:
        raise asyncio.LimitOverrunError("AGI environment too large", len(raw))
    headers: OrderedDict[str, str] = OrderedDict()
    for line in raw.decode("utf-8", errors="replace").splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            headers[name] = value
    return headers


async def command(request: Any, text: str) -> dict[str, Any]:
    """Send one AGI command; `AgiCommandError` unless Asterisk answered 200."""
    result: dict[str, Any] = await request.send_command(text)
    if "error" in result or result.get("status_code") != 200:
        raise AgiCommandError(f"{text.split(maxsplit=1)[0]}: {result.get('msg') or result.get('error')}")
    return result


async def set_variable(request: Any, name: str, value: str) -> None:
    """SET VARIABLE on the calling channel."""
    await command(request, f'SET VARIABLE {name} "{_quote(value)}"')


async def get_variable(request: Any, expression: str) -> str:
    """GET FULL VARIABLE: `expression` evaluated on the calling channel ('' when unset)."""
    result = await command(request, f'GET FULL VARIABLE "{expression}"')
    value = result.get("result", ("", ""))
    return str(value[1]) if value and value[0] == "1" else ""


_UNSAFE = re.compile(r"[$\{\}(),&|;\r\n\"\\]")


def _quote(value: str) -> str:
    # Values come partly from CRMs: nothing that the dialplan would evaluate or split may pass.
    if _UNSAFE.search(value):
        raise ValueError(f"refusing an AGI value with dialplan syntax: {value[:40]!r}")
    return value.replace("\\", "\\\\").replace('"', '\\"')


class AgiServer:
    """The daemon's FastAGI server: `start()`, then Asterisk connects; `stop()` on shutdown."""

    def __init__(self, interception: Interception, host: str | None = None, port: int | None = None) -> None:
        self.interception = interception
        self.host = host or interception.settings.agi_host
        self.port = interception.settings.agi_port if port is None else port
        self.decisions: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._app: _Application | None = None

    async def start(self) -> None:
        """Listen (port 0 picks a free port; `port` then holds it)."""
        deadline = self.interception.settings.lookup_timeout + COMMAND_MARGIN
        self._app = _Application(deadline)
        self._app.add_route(ROUTE, self._interception)
        self._server = await asyncio.start_server(self._accept, self.host, self.port, limit=MAX_HEADER_BYTES)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("agi.listening", host=self.host, port=self.port)

    async def stop(self) -> None:
        """Stop listening and cancel the requests being served."""
        if self._server is not None:
            self._server.close()
            self._server = None
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or self._app is None:
            writer.close()
            return
        if len(self._tasks) >= MAX_CONNECTIONS:
            writer.close()  # the dialplan goes on with the normal route: better than a queue
            return
        self._tasks.add(task)
        try:
            await self._app.handler(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _interception(self, request: Any) -> None:
        """Decide for the calling channel and answer with channel variables."""
        headers = request.headers
        caller = headers.get("agi_callerid", "")
        did = headers.get("agi_arg_1", "") or headers.get("agi_dnid", "")
        decision = await self.interception.decide(caller, did)
        if decision.extension is not None:
            decision = await self._check_device(request, decision)
        self.decisions[decision.reason] = self.decisions.get(decision.reason, 0) + 1
        await answer(request, decision, self.interception)
        log.info(
            "agi.interception",
            reason=decision.reason,
            extension=decision.extension,
            did=did,
            channel=headers.get("agi_channel", ""),
        )

    async def _check_device(self, request: Any, decision: Decision) -> Decision:
        if not self.interception.settings.skip_unavailable or decision.extension is None:
            return decision
        device = self.interception.device(decision.extension)
        state = await get_variable(request, f"${{DEVICE_STATE({device})}}")
        if self.interception.unavailable(state):
            return Decision("device_unavailable")
        return decision


async def answer(request: Any, decision: Decision, interception: Interception) -> None:
    """Set the channel variables the dialplan snippet reads."""
    extension = decision.extension or ""
    await set_variable(request, "CRM_RESPONSIBLE", extension)
    await set_variable(
        request, "CRM_INTERCEPT_DIAL", interception.dial_string(extension) if extension else ""
    )
    await set_variable(request, "CRM_INTERCEPT_SECONDS", str(decision.seconds) if extension else "")
    await set_variable(request, "CRM_INTERCEPT_REASON", decision.reason)
