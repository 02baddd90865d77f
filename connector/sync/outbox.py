"""The durable outbox: the call journal and the delivery jobs, in one SQLite file (WAL).

A finished call is written to the journal and turned into one job per adapter and kind in ONE
transaction, so a crash leaves either all of them or none. Every job has a unique idempotency
key: enqueueing the same call twice adds nothing. Workers claim jobs with a lease; a job whose
lease runs out (its worker died) goes back to the queue. Jobs of one adapter and conversation
run one after another in order (the recording only after the call is logged); when one is
dead-lettered the later ones wait dead with it, and `retry` resumes the chain.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from connector import logs
from connector.calls.model import Call, LiveEvent
from connector.crm import Adapter, JobKind, canonical_json, job_key
from connector.sync.database import Database, Synchronous
from connector.sync.jobs import AdapterStats, Job, JobState, OutboxStats, Settlement, Verdict
from connector.sync.state import SqliteState

log = logs.get_logger(__name__)

Listener = Callable[[set[str]], None]

_JOB_COLUMNS = (
    "id, key, adapter, kind, conversation, state, attempts, not_before, created_at, last_error, finished_at"
)
# An earlier job of the same chain that is not delivered holds a job back (order within a call).
_UNBLOCKED = """NOT EXISTS (
    SELECT 1 FROM jobs e
    WHERE e.adapter = j.adapter AND e.conversation = j.conversation
      AND e.id < j.id AND e.state != 'delivered')"""


class Outbox:
    """The journal and job queue; one instance per process, shared by service, dispatcher, CLI."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock  # wall clock: due times must survive a restart
        self._listeners: list[Listener] = []

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        synchronous: Synchronous = "full",
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> Outbox:
        """Open (create, migrate) the outbox file; `StorageError` if it is corrupt or locked."""
        db = await Database.open(Path(path), synchronous=synchronous, busy_timeout=busy_timeout)
        return cls(db, clock)

    async def close(self) -> None:
        """Close the file."""
        await self.db.close()

    def damage(self) -> str | None:
        """Why the file can no longer be trusted (removed, replaced, truncated, malformed), or None."""
        return self.db.damage()

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(adapter names)` whenever new jobs are committed (wakes idle workers)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling `listener`."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def state(self, adapter: str) -> SqliteState:
        """The durable `StateStore` of adapter `adapter`, kept in this file."""
        return SqliteState(self.db, adapter, self.clock)

    # -- enqueueing ----------------------------------------------------------------------------

    async def record_call(self, call: Call, adapters: Iterable[Adapter]) -> int:
        """Journal `call` and add its jobs for each adapter; returns how many jobs were new."""
        payload = call.to_dict()
        now = self.clock()
        planned = [
            (name, kind) for name, kinds in _plans(adapters, lambda a: a.jobs_for(call)) for kind in kinds
        ]
        added: set[str] = set()
        new = 0
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO calls (id, ended_at, recorded_at, payload) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (call.id, call.ended_at.timestamp(), now, json.dumps(payload, ensure_ascii=False)),
            )
            await conn.executemany(
                "INSERT OR IGNORE INTO call_linkedids (linkedid, call_id) VALUES (?, ?)",
                [(linkedid, call.id) for linkedid in {call.id, *call.linkedids}],
            )
            await self._adopt_live_jobs(conn, call)
            for name, kind in planned:
                key = job_key(name, kind, payload)
                if await _insert_job(
                    conn, key, adapter=name, kind=kind, conversation=call.id, payload=None, now=now
                ):
                    added.add(name)
                    new += 1
            for name in added:
                await _hold_behind_dead(conn, name, call.id, now)
        self._notify(added)
        return new

    async def record_live(self, event: LiveEvent, adapters: Iterable[Adapter]) -> int:
        """Add a live-event job for each adapter that wants it; returns how many were new."""
        payload = event.to_dict()
        text = canonical_json(payload)
        now = self.clock()
        names = [name for name, wanted in _plans(adapters, lambda a: [a.wants_live(event)]) if wanted[0]]
        added: set[str] = set()
        async with self.db.transaction() as conn:
            for name in names:
                key = job_key(name, JobKind.LIVE, payload)
                if await _insert_job(
                    conn,
                    key,
                    adapter=name,
                    kind=JobKind.LIVE,
                    conversation=event.call_id,
                    payload=text,
                    now=now,
                ):
                    added.add(name)
            for name in added:
                await _hold_behind_dead(conn, name, event.call_id, now)
        self._notify(added)
        return len(added)

    async def _adopt_live_jobs(self, conn: aiosqlite.Connection, call: Call) -> None:
        """Live jobs filed under another linkedid of this conversation join its chain."""
        others = [lid for lid in call.linkedids if lid != call.id]
        if others:
            marks = ",".join("?" * len(others))
            await conn.execute(
                f"UPDATE jobs SET conversation = ? WHERE kind = 'live' AND conversation IN ({marks})"
                " AND state != 'delivered'",
                (call.id, *others),
            )

    def _notify(self, adapters: set[str]) -> None:
        if adapters:
            for listener in self._listeners:
                listener(adapters)

    # -- the worker side ---------------------------------------------------------------------

    async def claim(self, adapter: str, owner: str, lease_seconds: float, limit: int = 1) -> list[Job]:
        """Take up to `limit` due jobs of `adapter`, oldest due first, leased to `owner`."""
        _, jobs = await self.settle(owner, (), adapter=adapter, claim=limit, lease_seconds=lease_seconds)
        return jobs

    async def ack(self, job: Job, owner: str) -> bool:
        """Mark `job` delivered; False when its lease was lost meanwhile (it may run again)."""
        return (await self.settle(owner, [Settlement(job, "delivered")]))[0][0]

    async def retry_later(
        self, job: Job, owner: str, delay: float, error: str, *, refund: bool = False
    ) -> bool:
        """Put `job` back to run after `delay` s; `refund` gives back the attempt (not its fault)."""
        verdict: Verdict = "parked" if refund else "retry"
        return (await self.settle(owner, [Settlement(job, verdict, delay, error)]))[0][0]

    async def bury(self, job: Job, owner: str, error: str) -> bool:
        """Dead-letter `job` with the CRM's message; later jobs of its chain are held with it."""
        return (await self.settle(owner, [Settlement(job, "dead", error=error)]))[0][0]

    async def settle(
        self,
        owner: str,
        settlements: Sequence[Settlement],
        *,
        adapter: str = "",
        claim: int = 0,
        lease_seconds: float = 60.0,
        durable: bool = False,
    ) -> tuple[list[bool], list[Job]]:
        """Write many workers' verdicts and claim up to `claim` more jobs of `adapter`, in ONE commit.

        This is the group commit of delivery: one transaction (and at most one disk sync) for
        every job settled meanwhile, instead of one per job. The verdicts go first, so the next
        job of a chain just delivered can be claimed in the same commit. Returns, per settlement,
        whether `owner` still held the job (False: its lease ran out, it may run again), and the
        jobs claimed. Bookkeeping only, so not fsynced unless `durable` (see `Database`).
        """
        now = self.clock()
        async with self.db.transaction(durable=durable) as conn:
            kept = [await _apply(conn, owner, s, now) for s in settlements]
            claimed = (
                await _claim(conn, adapter, owner=owner, now=now, lease_seconds=lease_seconds, limit=claim)
                if claim > 0
                else []
            )
        return kept, claimed

    async def release(self, owner: str) -> int:
        """On a clean stop: give `owner`'s unfinished jobs back at once, attempts refunded."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE jobs SET state = 'pending', attempts = MAX(0, attempts - 1), lease_owner = NULL,"
                " lease_until = NULL WHERE state = 'running' AND lease_owner = ?",
                (owner,),
            )
            return cursor.rowcount

    async def reap(self, max_attempts: int, lost_owners: Sequence[str] = ()) -> int:
        """Requeue jobs whose lease ran out or whose owner is known dead; too many losses → dead."""
        now = self.clock()
        marks = ",".join("?" * len(lost_owners))
        lost = f"(lease_until <= ? OR lease_owner IN ({marks}))" if lost_owners else "lease_until <= ?"
        params = (now, *lost_owners)
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE jobs SET state = 'dead', finished_at = ?, lease_owner = NULL,"
                " last_error = 'its worker was lost ' || attempts || ' times (crash or kill mid-delivery)'"
                f" WHERE state = 'running' AND attempts >= ? AND {lost}",
                (now, max_attempts, *params),
            )
            cursor = await conn.execute(
                "UPDATE jobs SET state = 'pending', lease_owner = NULL, lease_until = NULL,"
                f" last_error = 'its worker was lost (crash or kill)' WHERE state = 'running' AND {lost}",
                params,
            )
            return cursor.rowcount

    async def clamp_future(self, max_delay: float, lease_seconds: float) -> int:
        """Pull in due times and leases further ahead than any delay we set: the clock went back.

        A PBX without a battery-backed clock may boot in the past and be corrected by NTP later;
        without this, jobs scheduled before the jump would wait for as long as the jump.
        """
        now = self.clock()
        async with self.db.transaction() as conn:
            due = await conn.execute(
                "UPDATE jobs SET not_before = ? WHERE state = 'pending' AND not_before > ?",
                (now, now + max_delay),
            )
            leases = await conn.execute(
                "UPDATE jobs SET lease_until = ? WHERE state = 'running' AND lease_until > ?",
                (now + lease_seconds, now + lease_seconds),
            )
            return due.rowcount + leases.rowcount

    async def lease_owners(self) -> list[str]:
        """The owners holding running jobs (to spot those of a process that no longer exists)."""
        rows = await self.db.fetch("SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running'")
        return [str(row[0]) for row in rows if row[0] is not None]

    async def next_due(self, adapter: str) -> float | None:
        """When the next job of `adapter` that is not held back falls due (wall clock), if any."""
        rows = await self.db.fetch(
            "SELECT MIN(j.not_before) FROM jobs j"
            f" WHERE j.adapter = ? AND j.state = 'pending' AND {_UNBLOCKED}",
            (adapter,),
        )
        value = rows[0][0] if rows else None
        return float(value) if value is not None else None

    # -- operators -------------------------------------------------------------------------

    async def stats(self) -> OutboxStats:
        """Depth per adapter, dead letters, delivered (retained) and the oldest job's age."""
        now = self.clock()
        rows = await self.db.fetch(
            "SELECT adapter, state, COUNT(*), MIN(created_at) FROM jobs GROUP BY adapter, state"
        )
        counts: dict[str, dict[str, Any]] = {}
        for adapter, state, count, oldest in rows:
            entry = counts.setdefault(adapter, {})
            entry[state] = count
            if state in ("pending", "running"):
                entry["oldest"] = min(entry.get("oldest", oldest), oldest)
        journal = await self.db.fetch("SELECT COUNT(*) FROM calls")
        adapters = {
            name: AdapterStats(
                pending=c.get("pending", 0),
                running=c.get("running", 0),
                delivered=c.get("delivered", 0),
                dead=c.get("dead", 0),
                oldest_age=max(0.0, now - c["oldest"]) if "oldest" in c else None,
            )
            for name, c in sorted(counts.items())
        }
        return OutboxStats(adapters=adapters, journal_calls=int(journal[0][0]))

    async def jobs(
        self, *, states: Sequence[JobState] = (), adapter: str | None = None, limit: int = 50
    ) -> list[Job]:
        """Jobs for `outbox list`, newest first."""
        where, params = _filters(states, adapter)
        rows = await self.db.fetch(
            f"SELECT {_JOB_COLUMNS} FROM jobs{where} ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [_job(row) for row in rows]

    async def retry(self, ids: Iterable[int] = (), *, all_dead: bool = False) -> int:
        """Requeue dead jobs (by id, with the rest of their chain, or all); returns how many."""
        now = self.clock()
        async with self.db.transaction() as conn:
            if all_dead:
                cursor = await conn.execute(_REQUEUE + " WHERE state = 'dead'", (now,))
                count = cursor.rowcount
            else:
                count = 0
                for job_id in ids:
                    cursor = await conn.execute(
                        _REQUEUE + " WHERE state = 'dead' AND id IN (SELECT c.id FROM jobs c, jobs d"
                        " WHERE d.id = ? AND c.adapter = d.adapter AND c.conversation = d.conversation"
                        " AND c.id >= d.id)",
                        (now, job_id),
                    )
                    count += cursor.rowcount
        self._notify({"*"} if count else set())
        return count

    async def purge(self, state: JobState, older_than: float) -> int:
        """Delete `state` jobs finished more than `older_than` seconds ago (delivered or dead)."""
        if state not in (JobState.DELIVERED, JobState.DEAD):
            raise ValueError("only delivered or dead jobs can be purged")
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM jobs WHERE state = ? AND finished_at < ?",
                (state.value, self.clock() - older_than),
            )
            return cursor.rowcount

    async def purge_journal(self, older_than: float) -> int:
        """Forget journalled calls older than `older_than` s that no undelivered job still needs."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM calls WHERE recorded_at < ? AND NOT EXISTS (SELECT 1 FROM jobs j"
                " WHERE j.payload IS NULL AND j.conversation = calls.id AND j.state != 'delivered')",
                (self.clock() - older_than,),
            )
            await conn.execute("DELETE FROM call_linkedids WHERE call_id NOT IN (SELECT id FROM calls)")
            return cursor.rowcount

    async def journalled(self, linkedids: Iterable[str]) -> set[str]:
        """Which of `linkedids` belong to a call already in the journal."""
        wanted = list(dict.fromkeys(linkedids))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # SQLite's bound on host parameters
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self.db.fetch(
                f"SELECT linkedid FROM call_linkedids WHERE linkedid IN ({marks})", chunk
            )
            found.update(str(row[0]) for row in rows)
        return found

    async def journal(self, call_id: str) -> dict[str, Any] | None:
        """The journalled call `call_id` (`Call.to_dict()` shape), if kept."""
        rows = await self.db.fetch("SELECT payload FROM calls WHERE id = ?", (call_id,))
        return dict(json.loads(rows[0][0])) if rows else None


def _plans(adapters: Iterable[Adapter], ask: Callable[[Adapter], list[Any]]) -> list[tuple[str, list[Any]]]:
    """Each adapter's answer to `ask`; one that raises is logged and left out, not the whole call."""
    answers: list[tuple[str, list[Any]]] = []
    for adapter in adapters:
        try:
            answers.append((adapter.name, ask(adapter)))
        except Exception:
            # Isolation boundary: a bug in one adapter's planning must not lose the call for all.
            log.exception("adapter.planning_failed", adapter=adapter.name)
    return answers


async def _claim(
    conn: aiosqlite.Connection, adapter: str, *, owner: str, now: float, lease_seconds: float, limit: int = 1
) -> list[Job]:
    rows = await conn.execute_fetchall(
        f"SELECT {_prefixed('j')}, COALESCE(j.payload, c.payload) AS body"
        " FROM jobs j LEFT JOIN calls c ON j.payload IS NULL AND c.id = j.conversation"
        f" WHERE j.adapter = ? AND j.state = 'pending' AND j.not_before <= ? AND {_UNBLOCKED}"
        " ORDER BY j.not_before, j.id LIMIT ?",
        (adapter, now, limit),
    )
    jobs = [_job(row, with_payload=True) for row in rows]
    if jobs:
        await conn.execute(
            "UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?,"
            f" attempts = attempts + 1 WHERE id IN ({','.join('?' * len(jobs))})",
            (owner, now + lease_seconds, *(job.id for job in jobs)),
        )
    # The rows were read inside the same write transaction, so this is exactly what was stored.
    return [dataclasses.replace(job, state=JobState.RUNNING, attempts=job.attempts + 1) for job in jobs]


async def _apply(conn: aiosqlite.Connection, owner: str, settlement: Settlement, now: float) -> bool:
    """Write one verdict; False when `owner` no longer holds the job's lease."""
    job, verdict = settlement.job, settlement.verdict
    params: tuple[Any, ...]
    if verdict == "delivered":
        assignments, params = _DELIVERED, (now,)
    elif verdict == "dead":
        assignments, params = "state = 'dead', finished_at = ?, last_error = ?", (now, settlement.error)
    else:
        # retry spends the attempt; parked (credentials refused) and released (never run) do not.
        refund = ", attempts = MAX(0, attempts - 1)" if verdict != "retry" else ""
        assignments = f"state = 'pending', not_before = ?, last_error = COALESCE(?, last_error){refund}"
        params = (now + settlement.delay, settlement.error)
    cursor = await conn.execute(_FINISH.format(assignments), (*params, job.id, owner))
    if cursor.rowcount != 1:
        return False
    if verdict == "dead":
        await _hold_behind_dead(conn, job.adapter, job.conversation, now)
    return True


_DELIVERED = "state = 'delivered', finished_at = ?, last_error = NULL"
# Only the lease holder may settle a job: a worker whose lease ran out finds 0 rows changed.
_FINISH = (
    "UPDATE jobs SET {}, lease_owner = NULL, lease_until = NULL"
    " WHERE id = ? AND lease_owner = ? AND state = 'running'"
)
_REQUEUE = (
    "UPDATE jobs SET state = 'pending', attempts = 0, not_before = ?, finished_at = NULL,"
    " lease_owner = NULL, lease_until = NULL"
)


async def _hold_behind_dead(conn: aiosqlite.Connection, adapter: str, conversation: str, now: float) -> None:
    """Jobs queued after a dead job of their chain wait dead with it (a retry resumes them)."""
    first_dead = "(SELECT MIN(id) FROM jobs WHERE adapter = ? AND conversation = ? AND state = 'dead')"
    await conn.execute(
        f"UPDATE jobs SET state = 'dead', finished_at = ?,"
        f" last_error = 'held: earlier job #' || {first_dead} || ' of this conversation is dead'"
        f" WHERE adapter = ? AND conversation = ? AND state = 'pending' AND id > {first_dead}",
        (now, adapter, conversation, adapter, conversation, adapter, conversation),
    )


async def _insert_job(
    conn: aiosqlite.Connection,
    key: str,
    *,
    adapter: str,
    kind: JobKind,
    conversation: str,
    payload: str | None,
    now: float,
) -> bool:
    cursor = await conn.execute(
        "INSERT INTO jobs (key, adapter, kind, conversation, payload, state, not_before, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO NOTHING",
        (key, adapter, kind.value, conversation, payload, now, now),
    )
    return cursor.rowcount == 1


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in _JOB_COLUMNS.split(","))


def _filters(states: Sequence[JobState], adapter: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if states:
        clauses.append(f"state IN ({','.join('?' * len(states))})")
        params.extend(s.value for s in states)
    if adapter:
        clauses.append("adapter = ?")
        params.append(adapter)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _job(row: sqlite3.Row, *, with_payload: bool = False) -> Job:
    return Job(
        id=int(row["id"]),
        key=row["key"],
        adapter=row["adapter"],
        kind=JobKind(row["kind"]),
        conversation=row["conversation"],
        state=JobState(row["state"]),
        attempts=int(row["attempts"]),
        not_before=float(row["not_before"]),
        created_at=float(row["created_at"]),
        last_error=row["last_error"],
        finished_at=row["finished_at"],
        payload=dict(json.loads(row["body"])) if with_payload and row["body"] else {},
    )
