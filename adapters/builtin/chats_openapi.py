"""The conversations' part of the OpenAPI description (merged into `adapters.builtin.openapi`)."""

from __future__ import annotations

from typing import Any

from adapters.builtin.chats import KINDS, MAX_MEMBERS, MAX_PAGE, MAX_TEXT, MAX_TITLE, REACTIONS

_S = {"type": "string"}
_I = {"type": "integer"}
_T = {"type": "string", "format": "date-time"}
_ID = [{"name": "id", "in": "path", "required": True, "schema": _S}]
_EMPLOYEE = {"name": "employee_id", "in": "path", "required": True, "schema": _S}


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_TEXT = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
BODIES: dict[str, dict[str, Any]] = {
    "Chat": _obj(
        ["kind"], kind={"enum": list(KINDS)}, title={"type": "string", "maxLength": MAX_TITLE},
        member_ids={"type": "array", "items": _I, "maxItems": MAX_MEMBERS - 1},
        public={"type": "boolean", "description": "a channel anyone may read (channels only)"},
    ),
    "ChatMember": _obj(["employee_id"], employee_id=_I),
    "ChatChange": _obj([], title=_S, muted={"type": "boolean"}),
    "ChatRead": _obj([], last_id=_I),
    "ChatMessage": _obj(["text"], text=_TEXT, reply_to=_I),
    "ChatMessageEdit": _obj(["text"], text=_TEXT),
    "ChatReaction": _obj(["emoji"], emoji={"enum": list(REACTIONS)}),
    "ChatTask": _obj([], title=_S, assignee_id=_I, deadline=_T, client_id=_I, deal_id=_I),
}  # fmt: skip

OPERATIONS: list[tuple[str, str, str, list[dict[str, Any]], str]] = [
    ("get", "/api/crm/chats", "My chats and the public channels, with unread counts", [], ""),
    ("post", "/api/crm/chats", "Start a chat: one-to-one (found if it exists), group or channel", [], "Chat"),
    ("get", "/api/crm/chats/unread", "Unread messages and mentions over all my chats", [], ""),
    ("get", "/api/crm/chats/{id}", "A chat, its members and what I may do in it", _ID, ""),
    ("patch", "/api/crm/chats/{id}", "Rename a group or channel; mute or unmute my chat", _ID, "ChatChange"),
    ("post", "/api/crm/chats/{id}/members", "Add someone, or join a public channel", _ID, "ChatMember"),
    (
        "delete", "/api/crm/chats/{id}/members/{employee_id}", "Leave a chat, or (owner) remove someone",
        [*_ID, _EMPLOYEE], "",
    ),
    ("post", "/api/crm/chats/{id}/read", "Mark the chat read (up to a message)", _ID, "ChatRead"),
    (
        "get", "/api/crm/chats/{id}/messages", "History, oldest first; page back with next_before",
        [*_ID, _q("before", _I, "messages with a smaller id"), _q("limit", {**_I, "maximum": MAX_PAGE})], "",
    ),
    ("post", "/api/crm/chats/{id}/messages", "Write or answer; @name notifies", _ID, "ChatMessage"),
    ("patch", "/api/crm/chats/messages/{id}", "Correct my message", _ID, "ChatMessageEdit"),
    ("post", "/api/crm/chats/messages/{id}/reactions", "Put or take off a reaction", _ID, "ChatReaction"),
    ("post", "/api/crm/chats/messages/{id}/task", "A task from a message (linked to it)", _ID, "ChatTask"),
    ("get", "/api/crm/chats/tasks/{id}", "The chat and message a task was made from", _ID, ""),
]  # fmt: skip
