"""A small generated data set whose report figures were worked out by hand (see each test).

Company time zone: Moscow (UTC+3). "Now" is 2026-11-20 12:00 MSK, so the default period is
2026-11-01..2026-11-20. Tracking numbers: Сайт (+74951110001), Яндекс.Директ (+74951110002),
Instagram (+74951110003, no calls). Employees 200 (admin), 201 (manager), 202, 203.

Calls (MSK):                                 line     caller  answered by  talk
  c1  11-05 13:00 inbound                    Сайт*    …01     202          60
  c2  11-06 13:00 inbound                    Сайт     …01     203          120
  c3  11-07 13:00 inbound, rang 202+203      Сайт*    …02     missed
  c4  11-08 13:00 inbound                    Яндекс   …03     202          30
  c5  11-09 13:00 inbound, rang 202          Яндекс   …01     missed
  c6  11-10 13:00 inbound, direct            -        …04     203          90
  c7  11-11 13:00 outbound                   -        …05     202          45
  c8  10-30 13:00 inbound (before period)    Сайт*    …09     202          10
  c9  11-20 11:30 inbound                    Сайт*    …06     202          20
  c10 11-19 13:15 inbound, rang 203          Яндекс   …07     missed
  c11 11-19 12:30 inbound                    Сайт*    …10     203          50
  c12 11-01 01:30 inbound (10-31 UTC), rang 202  Сайт* …08    missed
(* the DID written without "+", as some trunks give it.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from adapters.builtin.campaigns import ensure_schema
from adapters.builtin.store import Store
from connector.calls.model import Direction
from connector.config import Line
from tests.unit.builtin.helpers import make_call

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=MSK)
SITE, YANDEX, INSTAGRAM = "+74951110001", "+74951110002", "+74951110003"
LINES = (Line(SITE, "Сайт"), Line(YANDEX, "Яндекс.Директ"), Line(INSTAGRAM, "Instagram"))


def msk(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Moscow time in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


def utc_text(moment: datetime) -> str:
    """`moment` as the store writes it."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def phone(n: int) -> str:
    """Caller number …0n."""
    return f"+791600000{n:02d}"


# id, caller, line (None = direct), answered by, rang, start, talk, direction
CALLS = (
    ("c1", 1, SITE[1:], "202", ("202",), msk(11, 5, 13), 60, Direction.INBOUND),
    ("c2", 1, SITE, "203", ("203",), msk(11, 6, 13), 120, Direction.INBOUND),
    ("c3", 2, SITE[1:], None, ("202", "203"), msk(11, 7, 13), 0, Direction.INBOUND),
    ("c4", 3, YANDEX, "202", ("202",), msk(11, 8, 13), 30, Direction.INBOUND),
    ("c5", 1, YANDEX, None, ("202",), msk(11, 9, 13), 0, Direction.INBOUND),
    ("c6", 4, None, "203", ("203",), msk(11, 10, 13), 90, Direction.INBOUND),
    ("c7", 5, None, "202", ("202",), msk(11, 11, 13), 45, Direction.OUTBOUND),
    ("c8", 9, SITE[1:], "202", ("202",), msk(10, 30, 13), 10, Direction.INBOUND),
    ("c9", 6, SITE[1:], "202", ("202",), msk(11, 20, 11, 30), 20, Direction.INBOUND),
    ("c10", 7, YANDEX, None, ("203",), msk(11, 19, 13, 15), 0, Direction.INBOUND),
    ("c11", 10, SITE[1:], "203", ("203",), msk(11, 19, 12, 30), 50, Direction.INBOUND),
    ("c12", 8, SITE[1:], None, ("202",), msk(11, 1, 1, 30), 0, Direction.INBOUND),
)


async def fill(store: Store) -> None:
    """Write the whole data set into an open store."""
    await ensure_schema(store.db, [(line.number, line.name) for line in LINES])
    for call_id, caller, did, answered, rang, start, talk, direction in CALLS:
        await store.calls.save(
            make_call(
                call_id, phone(caller), direction=direction, answered_by=answered, rang=rang,
                did=did, start=start, talk=talk,
            )
        )  # fmt: skip
    await _people_and_notes(store)
    await _deals(store)
    await _campaigns(store)


async def _employee_ids(store: Store) -> dict[str, int]:
    return {e["extension"]: e["id"] for e in await store.employees.list()}


async def _people_and_notes(store: Store) -> None:
    # New clients in the period: three of kind 'client'; one older client and one contact card.
    for name, kind, created in (
        ("Новый 1", "client", msk(11, 2, 10)), ("Новый 2", "client", msk(11, 5, 10)),
        ("Новый 3", "client", msk(11, 19, 10)), ("Старый", "client", msk(10, 15, 10)),
        ("", "contact", msk(11, 6, 10)),
    ):  # fmt: skip
        await store.db.write(
            "INSERT INTO clients (kind, name, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (kind, name, utc_text(created), utc_text(created)),
        )
    ids = await _employee_ids(store)
    for author, created in (
        ("202", msk(11, 3, 9)),
        ("202", msk(11, 12, 9)),
        ("202", msk(10, 3, 9)),
        ("203", msk(11, 4, 9)),
    ):
        await store.db.write(
            "INSERT INTO comments (author_id, text, created_at) VALUES (?, 'заметка', ?)",
            (ids[author], utc_text(created)),
        )


async def _deals(store: Store) -> None:
    await store.deals.ensure_pipelines({"Опт": ("Заявка", "Счёт")})
    pipes = {p["name"]: p["id"] for p in await store.deals.pipelines()}
    ids = await _employee_ids(store)
    old = msk(10, 25, 10)
    rows = (  # pipeline, stage, status, value, responsible, created, closed
        ("Продажи", "Оплата", "won", 1000, "202", old, msk(11, 3, 10)),
        ("Продажи", "Оплата", "won", 2500, "202", old, msk(11, 10, 10)),
        ("Продажи", "Предложение", "lost", 400, "203", old, msk(11, 12, 10)),
        ("Продажи", "Счёт", "lost", 100, "202", old, msk(10, 20, 10)),
        ("Продажи", "Новая", "open", 300, "202", msk(11, 4, 10), None),
        ("Продажи", "Новая", "archive", 50, "202", old, msk(11, 6, 10)),
        ("Опт", "Счёт", "won", 700, "203", msk(11, 2, 10), msk(11, 15, 10)),
        ("Опт", "Заявка", "lost", 10, "203", old, msk(11, 16, 10)),
        ("Опт", "Заявка", "lost", 20, "203", old, msk(11, 17, 10)),
    )
    for pipeline, stage, status, value, who, created, closed in rows:
        await store.db.write(
            "INSERT INTO deals (pipeline_id, stage, title, value, status, responsible_id, created_at,"
            " closed_at) VALUES (?, ?, 'сделка', ?, ?, ?, ?, ?)",
            (
                pipes[pipeline],
                stage,
                value,
                status,
                ids[who],
                utc_text(created),
                utc_text(closed) if closed else None,
            ),
        )


async def _campaigns(store: Store) -> None:
    for name, starts, ends, budget, numbers in (
        ("Осень", "2026-10-22", "2026-11-10", 20000, [SITE]),
        ("Директ", "2026-11-11", None, 5000, [YANDEX]),
        ("Весна", "2026-03-01", "2026-03-31", 9999, [SITE]),
        ("Без бюджета", "2026-11-15", None, None, [SITE, YANDEX]),
    ):
        cursor_id = await store.db.write(
            "INSERT INTO campaigns (name, starts_on, ends_on, budget, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, starts, ends, budget, utc_text(NOW)),
        )
        for number in numbers:
            await store.db.write(
                "INSERT INTO campaign_numbers (campaign_id, number) VALUES (?, ?)", (cursor_id, number)
            )


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move time on."""
        self.now += timedelta(**delta)
