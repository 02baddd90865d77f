"""Recover calls that happened entirely while AMI was down, from MikoPBX's CDR database.

MikoPBX writes every finished call leg to SQLite `cdr.db`, table `cdr_general`. This reader
opens it read-only, follows new rows by `id` (the cursor is kept durably in the outbox's state
store, so a restart neither skips nor repeats rows), groups them by linkedid and records, as a
`Call`, every group whose linkedid the AMI stream never carried. Calls seen live are left to
the tracker, so nothing is recorded twice. On its very first run the cursor starts at the end
of the table: history from before the connector was installed is not imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connector import logs
from connector.calls.model import Call, Direction, Disposition
from connector.calls.rules import TrackerRules
from connector.calls.state import id_key
from connector.config import CdrRecoverySettings
from connector.crm import StateStore

log = logs.get_logger(__name__)

CURSOR_KEY = "cdr_recovery.cursor"
BATCH = 1000
_COLUMNS = "id, start, answer, endtime, src_num, dst_num, did, linkedid, disposition, recordingfile"


class SeenLinkedids:
    """The linkedids the AMI stream carried lately (bounded: the oldest are forgotten first)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, linkedid: str) -> None:
        """Remember `linkedid`."""
        if linkedid and linkedid not in self._ids:
            self._ids[linkedid] = None
            if len(self._ids) > self.limit:
                self._ids.popitem(last=False)

    def __contains__(self, linkedid: object) -> bool:
        return linkedid in self._ids


class CdrRecovery:
    """Polls `cdr_general` and records the calls AMI never showed."""

    def __init__(
        self,
        settings: CdrRecoverySettings,
        state: StateStore,
        record: Callable[[Call], Awaitable[Any]],
        seen: SeenLinkedids,
        rules: TrackerRules,
        *,
        journalled: Callable[[Iterable[str]], Awaitable[set[str]]] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self._record = record
        self.seen = seen
        self.rules = rules
        # The outbox journal's linkedids: `seen` is forgotten at a restart, the journal is not.
        self._journalled = journalled
        self.recovered = 0
        self.wakeup = asyncio.Event()

    async def run(self) -> None:
        """Poll every `poll_seconds`, and at once when `wakeup` is set (after an AMI reconnect)."""
        unreadable = False
        while True:
            try:
                await self.poll()
            except sqlite3.Error as exc:
                if not unreadable:  # once, not every poll: on plain Asterisk there is no cdr.db
                    log.warning("cdr.unreadable", path=str(self.settings.db_path), error=str(exc))
                unreadable = True
            else:
                if unreadable:
                    log.info("cdr.readable_again", path=str(self.settings.db_path))
                unreadable = False
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.poll_seconds):
                    await self.wakeup.wait()
            self.wakeup.clear()

    async def poll(self) -> list[Call]:
        """Read the rows after the cursor, record the unseen calls, move the cursor; the calls."""
        cursor = await self.state.get(CURSOR_KEY)
        if cursor is None:
            last = await asyncio.to_thread(_max_id, self.settings.db_path)
            await self.state.set(CURSOR_KEY, last)
            log.info("cdr.cursor_started", at=last)
            return []
        rows = await asyncio.to_thread(_rows_after, self.settings.db_path, int(cursor))
        if not rows:
            return []
        calls = [c for c in self._calls(rows) if c is not None]
        if self._journalled is not None and calls:
            known = await self._journalled(lid for c in calls for lid in c.linkedids)
            calls = [c for c in calls if not known.intersection(c.linkedids)]
        for call in calls:
            await self._record(call)
        await self.state.set(CURSOR_KEY, rows[-1]["id"])
        if calls:
            self.recovered += len(calls)
            log.info("cdr.recovered_calls", ids=[c.id for c in calls])
        return calls

    def _calls(self, rows: Iterable[sqlite3.Row]) -> list[Call | None]:
        groups: dict[str, list[sqlite3.Row]] = {}
        for row in rows:
            groups.setdefault(str(row["linkedid"] or ""), []).append(row)
        return [call_from_rows(g, self.rules) for key, g in groups.items() if key and key not in self.seen]


def call_from_rows(rows: list[sqlite3.Row], rules: TrackerRules) -> Call | None:
    """One conversation from its `cdr_general` rows (None when it has no external party)."""
    first = rows[0]
    src, dst = str(first["src_num"] or ""), str(first["dst_num"] or "")
    if rules.is_extension(src) and not rules.is_extension(dst):
        direction, client, did = Direction.OUTBOUND, dst, None
    elif not rules.is_extension(src):
        direction, client, did = Direction.INBOUND, src, str(first["did"] or "") or None
    else:
        direction, client, did = Direction.INTERNAL, dst, None
    answered = [r for r in rows if str(r["disposition"] or "").upper() == "ANSWERED" and r["answer"]]
    started = min(_time(r["start"]) for r in rows)
    ended = max(_time(r["endtime"] or r["start"]) for r in rows)
    rang = tuple(
        dict.fromkeys(str(r["dst_num"]) for r in rows if rules.is_extension(str(r["dst_num"] or "")))
    )
    return Call(
        id=min((str(r["linkedid"]) for r in rows), key=id_key),  # the tracker's choice: numeric
        linkedids=tuple(sorted({str(r["linkedid"]) for r in rows})),
        direction=direction,
        client=rules.normalize(client) if direction is not Direction.INTERNAL else client,
        did=rules.normalize(did) if did else None,
        started_at=started,
        answered_at=min(_time(r["answer"]) for r in answered) if answered else None,
        ended_at=ended,
        disposition=_disposition(rows, direction, bool(answered)),
        rang=rang,
        answered_by=next(
            (str(r["dst_num"]) for r in answered if rules.is_extension(str(r["dst_num"]))), None
        ),
        recordings=tuple(str(r["recordingfile"]) for r in answered if r["recordingfile"]),
    )


def _disposition(rows: list[sqlite3.Row], direction: Direction, answered: bool) -> Disposition:
    if answered:
        return Disposition.ANSWERED
    if direction is Direction.INBOUND:
        return Disposition.MISSED
    last = str(rows[-1]["disposition"] or "").upper()
    return {"BUSY": Disposition.BUSY, "NO ANSWER": Disposition.NO_ANSWER}.get(last, Disposition.FAILED)


def _time(text: str) -> datetime:
    """MikoPBX writes local wall time ('2025-11-22 13:00:00.123'); make it aware, in UTC."""
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the PBX's local zone, which is this machine's
    return moment.astimezone(UTC)


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    conn.row_factory = sqlite3.Row
    return conn


def _max_id(path: Path) -> int:
    with contextlib.closing(_connect(path)) as conn:
        row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM cdr_general").fetchone()
        return int(row[0])


def _rows_after(path: Path, cursor: int) -> list[sqlite3.Row]:
    with contextlib.closing(_connect(path)) as conn:
        query = f"SELECT {_COLUMNS} FROM cdr_general WHERE id > ? ORDER BY id LIMIT ?"
        return list(conn.execute(query, (cursor, BATCH)).fetchall())
