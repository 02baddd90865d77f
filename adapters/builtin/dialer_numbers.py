"""Where an auto-dial list's numbers come from: a filter of clients, a CSV file, a pasted column.

Every number is normalised as the rest of the CRM keys numbers (`numbers.normalise`: E.164 by
`numbering.region`), matched to its client when the CRM knows it, and kept once. What was left
out is counted by why, so the dialog can say it before the list is made.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from adapters.builtin.db import Database
from adapters.builtin.dialer_plan import MAX_ENTRIES
from adapters.builtin.numbers import normalise
from adapters.builtin.search import client_condition, refresh_index

FILTER_KEYS = ("q", "responsible_id", "company_id", "pipeline_id", "stage")
MAX_TEXT = 2_000_000  # characters of a pasted column or CSV file
_PHONE_HEADERS = ("телефон", "phone", "номер", "number", "tel")
_LOOKS_LIKE_PHONE = re.compile(r"^[+\d][\d\s\-().]{4,24}$")


@dataclass(slots=True)
class Numbers:
    """The numbers of a new list, and what was left out."""

    numbers: list[tuple[str, int | None]] = field(default_factory=list)  # (E.164, client id)
    matched: int = 0  # rows, lines or clients looked at
    invalid: int = 0  # not a phone number
    not_allowed: int = 0  # refused by the toll-fraud patterns
    duplicates: int = 0
    without_phone: int = 0  # clients with no number
    too_many: bool = False

    def summary(self) -> dict[str, Any]:
        """The counts the dialog shows."""
        return {
            "numbers": len(self.numbers),
            "matched": self.matched,
            "invalid": self.invalid,
            "not_allowed": self.not_allowed,
            "duplicates": self.duplicates,
            "without_phone": self.without_phone,
            "too_many": self.too_many,
            "limit": MAX_ENTRIES,
        }

    def add(self, raw: str, client_id: int | None, allowed: Callable[[str], bool]) -> None:
        """Count one candidate number."""
        self.matched += 1
        text = raw.strip()
        phone = normalise(text) if _LOOKS_LIKE_PHONE.match(text) else ""
        if not phone.startswith("+") or len(phone) < 8:
            self.invalid += 1
        elif not allowed(phone):
            self.not_allowed += 1
        elif any(p == phone for p, _ in self.numbers):
            self.duplicates += 1
        elif len(self.numbers) >= MAX_ENTRIES:
            self.too_many = True
        else:
            self.numbers.append((phone, client_id))


def column(text: str) -> list[str]:
    """A pasted column: one number a line (commas and semicolons also separate)."""
    return [part for part in re.split(r"[\r\n,;]+", text) if part.strip()]


def csv_numbers(text: str) -> list[str]:
    """The phone column of a CSV file (by its header, else the first column that holds phones)."""
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header = [cell.strip().lower() for cell in rows[0]]
    index = next((i for i, name in enumerate(header) if any(h in name for h in _PHONE_HEADERS)), None)
    if index is not None:
        rows = rows[1:]
    else:
        width = max(len(row) for row in rows)
        index = next(
            (
                i
                for i in range(width)
                if any(len(r) > i and _LOOKS_LIKE_PHONE.match(r[i].strip()) for r in rows)
            ),
            0,
        )
        if rows and not _LOOKS_LIKE_PHONE.match(rows[0][index].strip() if len(rows[0]) > index else ""):
            rows = rows[1:]  # a header in words
    return [row[index] for row in rows if len(row) > index]


async def from_text(db: Database, lines: Iterable[str], allowed: Callable[[str], bool]) -> Numbers:
    """Numbers typed or pasted or read from a file, matched to the clients who have them."""
    found = Numbers()
    for raw in lines:
        found.add(raw, None, allowed)
    phones = [p for p, _ in found.numbers]
    owners: dict[str, int] = {}
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        rows = await db.fetch_all(
            f"SELECT phone, client_id FROM phones WHERE phone IN ({', '.join('?' for _ in chunk)})", chunk
        )
        owners.update({r["phone"]: r["client_id"] for r in rows})
    found.numbers = [(p, owners.get(p)) for p in phones]
    return found


async def from_filter(db: Database, flt: dict[str, Any], allowed: Callable[[str], bool]) -> Numbers:
    """One number per client matching the filter (a mobile first), in client order."""
    clauses, params = ["c.kind = 'client'"], list[Any]()
    if flt.get("q"):
        await refresh_index(db)
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
    rows = await db.fetch_all(
        "SELECT c.id, COALESCE("
        " (SELECT MIN(p.phone) FROM phones p WHERE p.client_id = c.id AND p.phone LIKE '+79%'),"
        " (SELECT MIN(p.phone) FROM phones p WHERE p.client_id = c.id)) AS phone"
        f" FROM clients c WHERE {' AND '.join(clauses)} ORDER BY c.id LIMIT ?",
        [*params, MAX_ENTRIES + 1],
    )
    out = Numbers()
    for row in rows:
        if row["phone"] is None:
            out.matched += 1
            out.without_phone += 1
        else:
            out.add(row["phone"], row["id"], allowed)
    out.too_many = out.too_many or len(rows) > MAX_ENTRIES
    return out
