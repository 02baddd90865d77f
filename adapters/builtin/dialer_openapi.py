"""The auto-dial lists' part of the OpenAPI description (merged into `adapters.builtin.openapi`)."""

from __future__ import annotations

from typing import Any

_S = {"type": "string"}
_I = {"type": "integer"}
_ID = [{"name": "id", "in": "path", "required": True, "schema": _S}]
_PAGE = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]
_FILTER = {
    "type": "object",
    "description": "clients by q (name, e-mail, phone), responsible_id, company_id, pipeline_id, stage",
    "properties": {"q": _S, "responsible_id": _I, "company_id": _I, "pipeline_id": _I, "stage": _S},
}
_SOURCE: dict[str, dict[str, Any]] = dict(
    filter=_FILTER,
    numbers={"type": "string", "description": "a pasted column: one number a line"},
    csv={"type": "string", "description": "a CSV file's text; the phone column by header or content"},
)
_SETTINGS: dict[str, dict[str, Any]] = dict(
    name=_S,
    employee_id={"type": ["integer", "null"], "description": "who dials (one per list)"},
    pause_seconds={"type": ["integer", "null"], "minimum": 0, "maximum": 600, "description": "null: «∞»"},
    retry_minutes={"type": "integer", "minimum": 1, "maximum": 1440},
    max_attempts={"type": "integer", "minimum": 1, "maximum": 5},
)


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


BODIES = {
    "DialSource": _obj([], **_SOURCE),
    "DialList": _obj(["name"], **_SETTINGS, **_SOURCE),
    "DialListChange": _obj([], **_SETTINGS),
}
_P = "/api/crm/dialer/lists"
_ACTION: dict[str, Any] = {"name": "action", "in": "path", "required": True,
           "schema": {"enum": ["start", "resume", "pause", "next", "archive"]}}  # fmt: skip
_ENTRY = {"name": "entry", "in": "path", "required": True, "schema": _S}
_STATE = {"name": "state", "in": "query", "schema": _S}
Operation = tuple[str, str, str, list[dict[str, Any]], str]
OPERATIONS: list[Operation] = [
    ("get", _P, "Auto-dial lists with counts by result", [*_PAGE, _STATE], ""),
    ("post", f"{_P}/preview", "How many numbers a source gives, and what is left out", [], "DialSource"),
    ("post", _P, "Make an auto-dial list", [], "DialList"),
    ("get", f"{_P}/{{id}}", "A list and its numbers with results and calls", [*_ID, *_PAGE], ""),
    ("patch", f"{_P}/{{id}}", "Change the pause, retries, the employee (stopped)", _ID, "DialListChange"),
    ("post", f"{_P}/{{id}}/entries/{{entry}}/skip", "Take a waiting number out", [*_ID, _ENTRY], ""),
    ("post", f"{_P}/{{id}}/{{action}}", "Start, resume, pause, next, archive", [*_ID, _ACTION], ""),
]  # fmt: skip
