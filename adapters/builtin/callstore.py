"""Calls filed in the built-in CRM: saved from the tracker's records, listed with filters.

A call from an unknown number is filed on an automatic contact card for that number; it stays
"unsorted" (no client, no deal) until someone turns the card into a client, attaches the number
to a client, or opens a deal.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from adapters.builtin import journal, rollup_callers, rollups
from adapters.builtin.changes import Changes
from adapters.builtin.db import Database, NotFoundError, Row, iso, now_iso
from adapters.builtin.numbers import normalise
from adapters.builtin.people import Clients
from adapters.builtin.search import (
    fold,
    indexed,
    names_matching,
    phone_fragment,
    phones_matching,
    refresh_index,
)
from connector.calls.model import Call, Direction, Reason

CALL_TYPES = ("incoming", "outgoing", "missed", "internal")
CALL_REASONS = tuple(r.value for r in Reason)


@dataclass(frozen=True, slots=True)
class CallFilter:
    """What the calls list is narrowed to; None / empty means "any"."""

    type: str | None = None
    did: str | None = None
    employee: str | None = None
    since: str | None = None  # ISO time, inclusive
    until: str | None = None  # ISO time, exclusive
    client_id: int | None = None
    phone: str | None = None
    appeals: bool = False
    unsorted: bool = False
    spam: bool | None = None  # True: only spam; False: no spam; None: both
    extensions: tuple[str, ...] | None = None  # the viewer's own extensions; None = sees all
    q: str | None = None  # a phone fragment typed any way, or a client's name
    reason: str | None = None  # one of CALL_REASONS: why an unanswered call ended so
    closed_hours_first: bool = False  # calls that came in closed hours first (the morning's list)
    pbx: str | None = None  # one office's calls only
    outcome: str | None = None  # what came of the call, as the employee chose
    indexed: bool = False  # `q` served by SQLite's trigram tables (search.ensure_index)


_TYPE_SQL = {
    "incoming": "c.direction = 'inbound' AND c.disposition = 'answered'",
    "outgoing": "c.direction = 'outbound'",
    "missed": "c.direction = 'inbound' AND c.disposition <> 'answered'",
    "internal": "c.direction = 'internal'",
}
_NO_DEAL = (
    "NOT EXISTS (SELECT 1 FROM deals d WHERE d.call_id = c.id"
    " OR (c.client_id IS NOT NULL AND d.client_id = c.client_id))"
)
_SPAM = "EXISTS (SELECT 1 FROM spam_numbers s WHERE s.phone = c.phone)"  # per row shown
# The list's filter: an uncorrelated set (SQLite and PostgreSQL build it once per query), which
# also lets "only spam" go through the calls' phone index.
_SPAM_SET = "(SELECT phone FROM spam_numbers WHERE phone IS NOT NULL)"
_ONLY_SPAM = f"c.phone IN {_SPAM_SET}"
_NO_SPAM = f"(c.phone IS NULL OR c.phone NOT IN {_SPAM_SET})"


class _Conditions:
    """A growing list of SQL conditions and their parameters."""

    def __init__(self) -> None:
        self.sql: list[str] = []
        self.params: list[Any] = []

    def add(self, sql: str, *values: Any) -> None:
        self.sql.append(sql)
        self.params.extend(values)


def _where(f: CallFilter) -> tuple[str, list[Any]]:
    """The WHERE clause and parameters of a filter (each condition a fixed SQL fragment)."""
    conds = _Conditions()
    _who_and_when(f, conds)
    _what(f, conds)
    return (" AND ".join(conds.sql) or "1 = 1"), conds.params


def _who_and_when(f: CallFilter, conds: _Conditions) -> None:
    if f.employee:
        conds.add(
            "EXISTS (SELECT 1 FROM call_extensions x WHERE x.call_id = c.id AND x.extension = ?)", f.employee
        )
    if f.extensions is not None:
        marks = ", ".join("?" for _ in f.extensions) or "NULL"
        conds.add(
            f"EXISTS (SELECT 1 FROM call_extensions x WHERE x.call_id = c.id AND x.extension IN ({marks}))",
            *f.extensions,
        )
    if f.since:
        conds.add("c.started_at >= ?", f.since)
    if f.until:
        conds.add("c.started_at < ?", f.until)
    if f.client_id is not None:
        conds.add("c.client_id = ?", f.client_id)
    if f.phone:
        conds.add("c.phone = ?", f.phone)
    if f.q:
        digits = phone_fragment(f.q)
        # Through the cards: every external number has one (a contact card at least), and the
        # phones table is a small fraction of the calls, so no scan of every call's number.
        if digits:
            sub, params = phones_matching(digits, fts=f.indexed)
        else:
            sub, params = names_matching([fold(f.q).strip()], fts=f.indexed)
        conds.add(f"c.client_id IN ({sub})", *params)


def _what(f: CallFilter, conds: _Conditions) -> None:
    if f.type:
        conds.add(_TYPE_SQL[f.type])
    if f.did:  # the tracker may write a line with or without "+": match either spelling
        bare = f.did.lstrip("+")
        conds.add("c.did IN (?, ?)", bare, "+" + bare)
    if f.appeals:
        conds.add(
            "c.direction = 'inbound' AND c.started_at = (SELECT MAX(l.started_at) FROM calls l"
            f" WHERE l.phone = c.phone) AND {_NO_DEAL}"
        )
    if f.unsorted:
        conds.add(f"c.direction = 'inbound' AND (c.client_id IS NULL OR k.kind = 'contact') AND {_NO_DEAL}")
    if f.spam is not None:
        conds.add(_ONLY_SPAM if f.spam else _NO_SPAM)
    if f.reason:
        conds.add("c.reason = ?", f.reason)
    if f.pbx is not None:
        conds.add("c.pbx = ?", f.pbx)
    if f.outcome:
        conds.add("c.outcome = ?", f.outcome)


_SELECT = (
    "SELECT c.*, k.name AS client_name, k.kind AS client_kind,"
    f" {_SPAM} AS spam, NOT {_NO_DEAL} AS has_deal"
    " FROM calls c LEFT JOIN clients k ON k.id = c.client_id"
)


def involved(call: Call) -> list[str]:
    """Every extension that took part in `call`: rang, answered, talked, received a transfer."""
    exts = [*call.rang, call.answered_by or "", *(g.extension for g in call.legs)]
    exts += [t.to_ext for t in call.transfers]
    if call.direction is Direction.INTERNAL:
        exts.append(call.client)
    return [e for e in dict.fromkeys(exts) if e]


class Calls:
    """The call log of the built-in CRM."""

    def __init__(self, db: Database, clients: Clients, changes: Changes | None = None) -> None:
        self.db = db
        self.clients = clients
        self.changes = changes or Changes()

    async def save(self, call: Call, pbx: str | None = None) -> Row:
        """File `call` (idempotent by conversation id: a redelivery updates the same row).

        Its office is `pbx` if given (the CRM knows who delivered it), else the call's own stamp.
        """
        pbx = call.pbx if pbx is None else pbx
        phone = normalise(call.client) if call.direction is not Direction.INTERNAL else call.client
        client_id = None
        if call.direction is not Direction.INTERNAL and phone:
            client_id = await self.clients.ensure_contact(phone)
        record = call.to_dict()
        employee = call.answered_by or (call.rang[0] if call.rang else None)
        values = (
            call.id, call.direction.value, phone, client_id, call.did, iso(call.started_at),
            iso(call.answered_at) if call.answered_at else None, iso(call.ended_at),
            call.disposition.value, round(call.talk_seconds, 3), round(call.wait_seconds, 3),
            employee, call.recording, json.dumps(record, ensure_ascii=False),
            call.reason.value if call.reason is not None else None,
        )  # fmt: skip
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT 1 FROM calls WHERE id = ?", (call.id,)) as cur:
                first = await cur.fetchone() is None  # a redelivery updates the row it filed before
            zone = await rollups.built_zone(conn)  # None: never built, the first report builds them
            before = await rollups.call_facts(conn, call.id) if zone else None
            # Unique callers: the days of the caller(s) this call touches, before and after it is filed.
            callers = await rollup_callers.pairs_of(conn, call.id) if zone else set()
            if zone and call.direction is Direction.INBOUND:
                callers |= await rollup_callers.pairs_for(conn, phone, call.did)
            days = rollup_callers.Days(zone) if zone else None
            callers_before = await rollup_callers.days_of(conn, callers, days) if days else {}
            await conn.execute(
                "INSERT INTO calls (id, direction, phone, client_id, did, started_at, answered_at, ended_at,"
                " disposition, talk_seconds, wait_seconds, employee, recording, record, reason, pbx)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET direction = excluded.direction, did = excluded.did,"
                " started_at = excluded.started_at, answered_at = excluded.answered_at,"
                " ended_at = excluded.ended_at, disposition = excluded.disposition,"
                " talk_seconds = excluded.talk_seconds, wait_seconds = excluded.wait_seconds,"
                " employee = excluded.employee, record = excluded.record, reason = excluded.reason,"
                " pbx = excluded.pbx, recording = COALESCE(excluded.recording, calls.recording)",
                (*values, pbx),
            )
            await conn.execute("DELETE FROM call_extensions WHERE call_id = ?", (call.id,))
            await conn.executemany(
                "INSERT INTO call_extensions (call_id, extension) VALUES (?, ?)",
                [(call.id, ext) for ext in involved(call)],
            )
            if client_id is not None:
                await conn.execute("UPDATE clients SET updated_at = ? WHERE id = ?", (now_iso(), client_id))
            if zone is not None:  # the analytics counters: minus the old version, plus this one
                deltas = rollups.Deltas(zone)
                rollups.count_call(deltas, before, -1)
                rollups.count_call(deltas, await rollups.call_facts(conn, call.id), 1)
                await deltas.apply(conn)
            if days is not None:
                after = await rollup_callers.days_of(conn, callers, days)
                await rollup_callers.apply_change(conn, callers_before, after)
        if first:
            self.changes.call_filed(call.id)
        return await self.get(call.id)

    async def set_recording(self, call_id: str, path: str) -> None:
        """Attach a recording file to a filed call (NotFoundError if the call is not filed yet)."""
        await self.get(call_id)
        await self.db.write("UPDATE calls SET recording = ? WHERE id = ?", (path, call_id))

    async def get(self, call_id: str, extensions: tuple[str, ...] | None = None) -> Row:
        """One call; NotFoundError if absent or not among the viewer's own calls."""
        where, params = _where(CallFilter(extensions=extensions))
        row = await self.db.fetch_one(f"{_SELECT} WHERE c.id = ? AND {where}", [call_id, *params])
        if row is None:
            raise NotFoundError("call", call_id)
        return _present(row)

    async def list(self, f: CallFilter, *, limit: int, offset: int) -> tuple[list[Row], int]:
        """A page of calls, newest first, and the total matching `f`."""
        if f.q:
            await refresh_index(self.db)
            f = dataclasses.replace(f, indexed=indexed(self.db))
        where, params = _where(f)
        total = await self._count(f)
        first = "c.reason IS 'closed_hours' DESC, " if f.closed_hours_first else ""
        rows = await self.db.fetch_all(
            f"{_SELECT} WHERE {where} ORDER BY {first}c.started_at DESC, c.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_present(r) for r in rows], total

    async def _count(self, f: CallFilter) -> int:
        """How many calls match `f`. Without spam: every call less the spam ones, two counts that
        use indexes, rather than each call's number tested (0.05 s instead of 0.6 s at 1M calls)."""
        if f.spam is False:
            every = await self._count(dataclasses.replace(f, spam=None))
            return every - await self._count(dataclasses.replace(f, spam=True))
        where, params = _where(f)
        base = f"FROM calls c LEFT JOIN clients k ON k.id = c.client_id WHERE {where}"
        return int(await self.db.scalar(f"SELECT COUNT(*) {base}", params) or 0)

    async def by_recording(self, path: str) -> Row | None:
        """The call whose recording is `path`, or None."""
        row = await self.db.fetch_one(f"{_SELECT} WHERE c.recording = ?", (path,))
        return _present(row) if row else None

    async def set_outcome(self, call_id: str, outcome: str, employee_id: int | None) -> None:
        """Record what came of a call ('' clears it); the client's feed says who chose what."""
        async with self.db.transaction() as conn:
            async with conn.execute("SELECT client_id, outcome FROM calls WHERE id = ?", (call_id,)) as cur:
                found = await cur.fetchone()
            if found is None:
                raise NotFoundError("call", call_id)
            if found[1] == outcome:
                return
            await conn.execute("UPDATE calls SET outcome = ? WHERE id = ?", (outcome, call_id))
            if found[0] is not None:
                text = f"Итог звонка: {outcome}" if outcome else "Итог звонка снят"
                await journal.write(conn, "change", text, client_id=found[0], employee_id=employee_id)

    async def mark_spam(self, phone: str, employee_id: int | None, spam: bool = True) -> None:
        """Mark (or unmark) a number as spam: its calls are hidden from the usual lists."""
        if spam:
            await self.db.write(
                "INSERT INTO spam_numbers (phone, marked_by, marked_at) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (phone, employee_id, now_iso()),
            )
        else:
            await self.db.write("DELETE FROM spam_numbers WHERE phone = ?", (phone,))


def _present(row: Row) -> Row:
    """A call row as the API shows it: the tracker's record plus where it is filed."""
    record = json.loads(row.pop("record"))
    for key in (
        "legs",
        "transfers",
        "rang",
        "linkedids",
        "queue",
        "pickup",
        "originated",
        "answered_by",
        "voicemail",
    ):
        row[key] = record.get(key)
    row["spam"] = bool(row["spam"])
    row["has_deal"] = bool(row["has_deal"])
    return row
