"""The company's live feed pushed over /api/live as it happens (seed 003 «Живая лента»).

New journal entries (deal moves and closes, card changes, finished tasks), comments and deals are
found by id past the last one pushed, so every writer is covered (a REST change, an import, another
CRM process on the same PostgreSQL) and nothing is pushed twice. The REST layer pokes the watch after
each change, which pushes at once; otherwise it looks every `interval` seconds. A call is pushed
as soon as the store files it for the first time, with its extensions, so an employee hears only
their own calls. Each item has the shape of GET /api/crm/activity's items, so the page shows both
alike. A change to a deal is also a notice to the deal's people who did not mute it (not to whoever
made it); a comment is a notice to each employee it @mentions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from adapters.builtin.board import ACTIVITY_SQL
from adapters.builtin.changes import Changes
from adapters.builtin.db import UNAVAILABLE_ERRORS, Database, Row
from adapters.builtin.deal_people import DealPeople
from connector import logs
from connector.api.live import Broadcast

log = logs.get_logger(__name__)

TOPIC = "activity"
NOTICE = "notice"  # a notification for some employees (a deal they work on changed, a mention)
BATCH = 200  # at most this many items of one source per look (an import of 10k rows pushes the newest)
PENDING_CALLS = 1000  # filed calls waiting to be pushed; the oldest are dropped beyond this
# source table → its feed rows (ACTIVITY_SQL) and its id column
# (a new deal before its moves: items of the same second keep this order)
SOURCES = {
    "deals": (ACTIVITY_SQL["new_deal"], "d.id"),
    "journal": (ACTIVITY_SQL["journal"].format(kinds="'deal', 'change', 'task'"), "j.id"),
    "comments": (ACTIVITY_SQL["comment"], "m.id"),
}


class ActivityWatch:
    """Finds what is new in the CRM and hands it to `publish` as `Broadcast`s, oldest first."""

    def __init__(
        self, db: Database, changes: Changes, publish: Callable[[Broadcast], None], interval: float = 2.0
    ) -> None:
        self.db = db
        self.changes = changes
        self.publish = publish
        self.interval = interval
        self._wake = asyncio.Event()
        self._calls: deque[str] = deque(maxlen=PENDING_CALLS)
        self._marks: dict[str, int] = {}
        self.people = DealPeople(db)

    def _heard(self, call_id: str | None) -> None:
        if call_id is not None:
            self._calls.append(call_id)
        self._wake.set()

    async def run(self) -> None:
        """Push what is new until cancelled (a database that is down is waited out, not fatal)."""
        unlisten = self.changes.listen(self._heard)
        try:
            while True:
                try:
                    if self.db.is_open:  # the daemon starts the web app before it opens the database
                        await self.catch_up()
                except UNAVAILABLE_ERRORS as exc:
                    log.warning("activity.unavailable", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._wake.wait()
                self._wake.clear()
        finally:
            unlisten()

    async def catch_up(self) -> int:
        """Push the calls filed and the rows added since the last look; how many items went out.

        The first look only notes where each source stands: history is GET /api/crm/activity's.
        """
        items: list[tuple[Row, tuple[str, ...] | None]] = []
        for table, (sql, column) in SOURCES.items():
            top = int(await self.db.scalar(f"SELECT COALESCE(MAX(id), 0) FROM {table}") or 0)
            mark = self._marks.get(table)
            self._marks[table] = top
            if mark is None or top <= mark:
                continue
            rows = await self.db.fetch_all(
                f"{sql} AND {column} > ? AND {column} <= ? ORDER BY {column} DESC LIMIT {BATCH}", (mark, top)
            )
            items += [(row, None) for row in reversed(rows)]
            if table == "journal":
                await self._tell_deal_people(mark, top)
            elif table == "comments":
                await self._tell_mentioned(mark, top)
        while self._calls:
            call = await self._call_item(self._calls.popleft())
            if call is not None:
                items.append(call)
        items.sort(key=lambda item: str(item[0]["at"]))  # stable: within a second, the order above
        for row, extensions in items:
            self.publish(Broadcast(TOPIC, row, extensions))
        return len(items)

    async def _tell_deal_people(self, after: int, upto: int) -> None:
        """Notify each changed deal's people (not who changed it, not who muted it)."""
        rows = await self.db.fetch_all(
            "SELECT j.deal_id, j.employee_id, j.text, j.at, d.title, e.name AS who FROM journal j"
            " JOIN deals d ON d.id = j.deal_id LEFT JOIN employees e ON e.id = j.employee_id"
            f" WHERE j.id > ? AND j.id <= ? ORDER BY j.id DESC LIMIT {BATCH}",
            (after, upto),
        )
        for row in reversed(rows):
            audience = await self.people.audience(row["deal_id"], row["employee_id"])
            if audience:
                notice = {k: row[k] for k in ("deal_id", "title", "text", "at", "who")}
                self.publish(Broadcast(NOTICE, {"kind": "deal", **notice}, people=tuple(audience)))

    async def _tell_mentioned(self, after: int, upto: int) -> None:
        """Tell each employee a new comment @mentions (its row in comment_mentions) at once."""
        rows = await self.db.fetch_all(
            "SELECT m.id AS comment_id, m.client_id, m.text, m.created_at AS at, c.name AS client_name,"
            " e.name AS who, n.employee_id FROM comment_mentions n JOIN comments m ON m.id = n.comment_id"
            " LEFT JOIN clients c ON c.id = m.client_id LEFT JOIN employees e ON e.id = m.author_id"
            f" WHERE m.id > ? AND m.id <= ? ORDER BY m.id DESC LIMIT {BATCH}",
            (after, upto),
        )
        for row in reversed(rows):
            notice = {k: row[k] for k in ("comment_id", "client_id", "client_name", "text", "at", "who")}
            self.publish(Broadcast(NOTICE, {"kind": "mention", **notice}, people=(int(row["employee_id"]),)))

    async def _call_item(self, call_id: str) -> tuple[Row, tuple[str, ...]] | None:
        """A filed call as a feed item, with the extensions it involved (None: internal or gone)."""
        row = await self.db.fetch_one(ACTIVITY_SQL["call"].format(scope="") + " AND k.id = ?", (call_id,))
        if row is None:
            return None
        extensions = await self.db.fetch_all(
            "SELECT extension FROM call_extensions WHERE call_id = ?", (call_id,)
        )
        return row, tuple(r["extension"] for r in extensions)


def context(
    db: Database, changes: Changes, interval: float = 2.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """An aiohttp cleanup context that runs the watch for the app's life, publishing to its hub."""
    from connector.api.app import HUB_KEY

    async def watching(app: web.Application) -> AsyncIterator[None]:
        watch = ActivityWatch(db, changes, app[HUB_KEY].publish, interval)
        task = asyncio.create_task(watch.run(), name="activity-watch")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return watching
