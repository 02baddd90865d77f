"""The clients list's super-filter (manual, seed 003: «Супер-фильтр»): conditions on any field, all met.

A condition is `{"field": key, "op": op, "value": ...}`. Keys are the card's own fields (name, email,
notes, company, responsible_id, created_at, list: a client list's id, phone: digits of a number) and
custom fields as `f<id>`. Operators: eq, ne, contains, gt, lt, empty, filled; gt/lt compare numbers
as numbers and dates as dates. Every value is bound as a parameter; keys and operators come from the
lists below, so no text of the request reaches the SQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.builtin.db import Row

OPS = ("eq", "ne", "contains", "gt", "lt", "empty", "filled")
MAX_CONDITIONS = 10
BUILT_IN = {
    "name": "c.name",
    "email": "c.email",
    "notes": "c.notes",
    "company": "(SELECT co.name FROM companies co WHERE co.id = c.company_id)",
    "responsible_id": "c.responsible_id",
    "created_at": "c.created_at",
}


class FilterError(ValueError):
    """A condition that cannot be applied; `index` says which one."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"condition {index + 1}: {message}")
        self.index = index


def condition(conditions: Sequence[Mapping[str, Any]], fields: Mapping[int, Row]) -> tuple[str, list[Any]]:
    """SQL (on clients `c`) met by the clients that meet every condition, and its parameters.

    `fields`: the clients' custom fields by id.
    """
    if len(conditions) > MAX_CONDITIONS:
        raise FilterError(MAX_CONDITIONS, f"at most {MAX_CONDITIONS} conditions")
    parts: list[str] = []
    params: list[Any] = []
    for n, cond in enumerate(conditions):
        sql, values = _one(n, cond, fields)
        parts.append(sql)
        params += values
    return (" AND ".join(parts) or "1 = 1"), params


def _one(n: int, cond: Mapping[str, Any], fields: Mapping[int, Row]) -> tuple[str, list[Any]]:
    key, op, value = str(cond.get("field", "")), str(cond.get("op", "")), cond.get("value")
    if op not in OPS:
        raise FilterError(n, f"unknown operator {op!r}")
    if op not in ("empty", "filled") and (value is None or isinstance(value, dict | list)):
        raise FilterError(n, "needs a value")
    if key == "list":
        if op not in ("eq", "ne") or not isinstance(value, int):
            raise FilterError(n, "a list is matched by its id with eq or ne")
        sql = "EXISTS (SELECT 1 FROM client_list_members m WHERE m.client_id = c.id AND m.list_id = ?)"
        return (sql if op == "eq" else f"NOT {sql}"), [value]
    if key == "phone":
        digits = "".join(ch for ch in str(value) if ch.isdigit())
        if op != "contains" or len(digits) < 3:
            raise FilterError(n, "a phone is matched with contains and at least 3 digits")
        return "EXISTS (SELECT 1 FROM phones p WHERE p.client_id = c.id AND p.phone LIKE ?)", [f"%{digits}%"]
    numeric = False
    if key in BUILT_IN:
        expr = BUILT_IN[key]
    elif key.startswith("f") and key[1:].isdigit() and int(key[1:]) in fields:
        field = fields[int(key[1:])]
        numeric = field["kind"] == "number" and op in ("eq", "ne", "gt", "lt")
        column = "num" if numeric else "value"
        field_id = int(field["id"])  # an integer of ours, never the request's text
        expr = (
            f"(SELECT v.{column} FROM custom_values v WHERE v.field_id = {field_id} AND v.record_id = c.id)"
        )
    else:
        raise FilterError(n, f"unknown field {key!r}")
    if numeric:
        try:
            value = float(str(value).replace(",", ".").replace(" ", ""))
        except ValueError as exc:
            raise FilterError(n, "needs a number") from exc
    return _compare(expr, op, value, numeric)


def _compare(expr: str, op: str, value: Any, numeric: bool) -> tuple[str, list[Any]]:
    if op == "empty":
        return f"COALESCE(CAST({expr} AS TEXT), '') = ''", []
    if op == "filled":
        return f"COALESCE(CAST({expr} AS TEXT), '') <> ''", []
    if op == "contains":
        return f"LOWER(COALESCE(CAST({expr} AS TEXT), '')) LIKE ?", [f"%{str(value).lower()}%"]
    if numeric or isinstance(value, int | float):
        sql = {"eq": "=", "ne": "<>", "gt": ">", "lt": "<"}[op]
        if op == "ne":
            return f"({expr} IS NULL OR {expr} <> ?)", [value]
        return f"{expr} {sql} ?", [value]
    text = str(value)
    if op == "ne":
        return f"COALESCE(CAST({expr} AS TEXT), '') <> ?", [text]
    return f"CAST({expr} AS TEXT) {({'eq': '=', 'gt': '>', 'lt': '<'})[op]} ?", [text]
