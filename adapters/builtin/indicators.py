"""The card's indicators (manual: «Блок с индикаторами»): short reports on one client.

Calls are counted as the viewer may see them (an employee: the calls their extensions took part
in), deals as the viewer may see them (an employee: their own and those they take part in); each
figure is one indexed query on the client's rows (calls_client, deals by client_id).
"""

from __future__ import annotations

from typing import Any

from adapters.builtin.db import Database, calls_visible_to
from adapters.builtin.deal_people import visible_to


async def of_client(
    db: Database, client_id: int, extensions: tuple[str, ...] | None, employee: int | None
) -> dict[str, Any]:
    """Calls (all, missed inbound, talk minutes, the last one), deals (open and won: count and
    sum) and open tasks of one client."""
    scope, scope_params = calls_visible_to(extensions)
    calls = await db.fetch_one(
        "SELECT COUNT(*) AS calls,"
        " SUM(CASE WHEN k.direction = 'inbound' AND k.disposition <> 'answered' THEN 1 ELSE 0 END) AS missed,"
        " COALESCE(SUM(k.talk_seconds), 0) AS talk, MAX(k.started_at) AS last_call"
        f" FROM calls k WHERE k.client_id = ?{scope}",
        [client_id, *scope_params],
    )
    seen, seen_params = ("", []) if employee is None else visible_to(employee)
    if seen:
        seen = f" AND {seen}"
    deals = await db.fetch_one(
        "SELECT SUM(CASE WHEN d.status = 'open' THEN 1 ELSE 0 END) AS open_deals,"
        " COALESCE(SUM(CASE WHEN d.status = 'open' THEN d.value ELSE 0 END), 0) AS open_value,"
        " SUM(CASE WHEN d.status = 'won' THEN 1 ELSE 0 END) AS won_deals,"
        " COALESCE(SUM(CASE WHEN d.status = 'won' THEN d.value ELSE 0 END), 0) AS won_value"
        f" FROM deals d WHERE d.client_id = ?{seen}",
        [client_id, *seen_params],
    )
    tasks = await db.scalar("SELECT COUNT(*) FROM tasks WHERE client_id = ? AND done = 0", (client_id,))
    calls = calls or {}
    deals = deals or {}
    return {
        "calls": int(calls.get("calls") or 0),
        "missed": int(calls.get("missed") or 0),
        "talk_minutes": round(float(calls.get("talk") or 0) / 60),
        "last_call": calls.get("last_call"),
        "open_deals": int(deals.get("open_deals") or 0),
        "open_value": float(deals.get("open_value") or 0),
        "won_deals": int(deals.get("won_deals") or 0),
        "won_value": float(deals.get("won_value") or 0),
        "open_tasks": int(tasks or 0),
    }
