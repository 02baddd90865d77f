"""Who a mailing goes to: a list of clients or a filter, less those without a number or opted out.

The manual (2.11) builds the list with a query: "Телефон не пусто" always, plus conditions such
as the stage of an open deal. Here: clients (not bare contact cards) chosen by id, or by name,
responsible manager, company and open-deal stage. Each gets one SMS, to a Russian mobile
(+79…) number when they have one, else to their first number; a number shared by two chosen
clients gets one SMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from adapters.builtin.db import Database
from adapters.builtin.search import client_condition, refresh_index

FILTER_KEYS = ("q", "responsible_id", "company_id", "pipeline_id", "stage")


@dataclass(slots=True)
class Audience:
    """The recipients and what was left out and why."""

    recipients: list[tuple[int, str]] = field(default_factory=list)  # (client id, phone)
    matched: int = 0  # clients the list or filter named
    without_phone: int = 0
    opted_out: int = 0
    duplicates: int = 0  # a number already taken by another chosen client

    def summary(self) -> dict[str, int]:
        """The counts the mailing dialog shows."""
        return {
            "matched": self.matched,
            "recipients": len(self.recipients),
            "without_phone": self.without_phone,
            "opted_out": self.opted_out,
            "duplicates": self.duplicates,
        }


def _where(client_ids: list[int] | None, flt: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses, params = ["c.kind = 'client'"], list[Any]()
    if client_ids is not None:
        clauses.append(f"c.id IN ({', '.join('?' for _ in client_ids) or 'NULL'})")
        params.extend(client_ids)
    if flt.get("q"):  # the clients list's own search: name, e-mail, phone digits
        found, found_params = client_condition(str(flt["q"]))
        clauses.append(found)
        params.extend(found_params)
    for key in ("responsible_id", "company_id"):
        if flt.get(key):
            clauses.append(f"c.{key} = ?")
            params.append(int(flt[key]))
    if flt.get("stage") or flt.get("pipeline_id"):
        deal = "SELECT 1 FROM deals d WHERE d.client_id = c.id AND d.status = 'open'"
        if flt.get("pipeline_id"):
            deal += " AND d.pipeline_id = ?"
            params.append(int(flt["pipeline_id"]))
        if flt.get("stage"):
            deal += " AND d.stage = ?"
            params.append(str(flt["stage"]))
        clauses.append(f"EXISTS ({deal})")
    return " AND ".join(clauses), params


async def resolve(db: Database, client_ids: list[int] | None, flt: dict[str, Any], limit: int) -> Audience:
    """The recipients of a list (`client_ids`) or a filter (`flt`), at most `limit` of them."""
    if flt.get("q"):
        await refresh_index(db)
    where, params = _where(client_ids, flt)
    rows = await db.fetch_all(
        "SELECT c.id,"
        " (SELECT MIN(p.phone) FROM phones p WHERE p.client_id = c.id AND p.phone LIKE '+79%') AS mobile,"
        " (SELECT MIN(p.phone) FROM phones p WHERE p.client_id = c.id) AS first_phone,"
        " (SELECT 1 FROM sms_optout o WHERE o.phone IN"
        "   (SELECT p.phone FROM phones p WHERE p.client_id = c.id) LIMIT 1) AS opted_out"
        f" FROM clients c WHERE {where} ORDER BY c.id LIMIT ?",
        [*params, limit + 1],
    )
    audience = Audience(matched=len(rows))
    seen: set[str] = set()
    for row in rows[:limit]:
        phone = row["mobile"] or row["first_phone"]
        if not phone:
            audience.without_phone += 1
        elif row["opted_out"]:
            audience.opted_out += 1
        elif phone in seen:
            audience.duplicates += 1
        else:
            seen.add(phone)
            audience.recipients.append((row["id"], phone))
    return audience
