"""The mailbox's part of the OpenAPI description (merged into `adapters.builtin.openapi`)."""

from __future__ import annotations

from typing import Any

_S = {"type": "string"}
_I = {"type": "integer"}
_B = {"type": "boolean"}
_SEC = {"enum": ["ssl", "starttls", "none"]}
_ID = [{"name": "id", "in": "path", "required": True, "schema": _S}]
_PAGE = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]


def _obj(required: list[str], **props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props, "additionalProperties": False}


def _q(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description}


_MAILBOX: dict[str, dict[str, Any]] = dict(
    address=_S, name=_S, access={"enum": ["common", "personal"]}, owner_id=_I, login=_S,
    password={"type": "string", "writeOnly": True, "description": "or an app password; never returned"},
    password_env={"type": "string", "description": "the environment variable holding the password"},
    password_file={"type": "string", "description": "a file holding the password"},
    imap_host=_S, imap_port=_I, imap_security=_SEC, smtp_host=_S, smtp_port=_I, smtp_security=_SEC,
    folder=_S, enabled=_B,
)  # fmt: skip
_FILE = _obj(["name", "data"], name=_S, type=_S, data={"type": "string", "contentEncoding": "base64"})
BODIES: dict[str, dict[str, Any]] = {
    "Mailbox": _obj(["address"], **_MAILBOX),
    "MailboxPatch": _obj([], **_MAILBOX),
    "Letter": _obj(
        [], mailbox_id=_I, client_id=_I, reply_to=_I, template_id=_I,
        to={"type": "array", "items": _S}, cc={"type": "array", "items": _S}, subject=_S, body=_S,
        attachments={"type": "array", "items": _FILE, "maxItems": 10},
    ),
    "LetterClient": _obj([], client_id=_I, name=_S),
    "MailTemplate": _obj(["name"], name=_S, subject=_S, body=_S),
}  # fmt: skip

OPERATIONS: list[tuple[str, str, str, list[dict[str, Any]], str]] = [
    (
        "get", "/api/crm/mail", "Letters, newest first (others' personal mailboxes hidden)",
        [_q("client_id", _I), _q("unmatched", _B, "only from unknown senders"), _q("q", _S), *_PAGE], "",
    ),
    ("post", "/api/crm/mail", "Write or answer a letter: queued, sent with retries (202)", [], "Letter"),
    ("get", "/api/crm/mail/{id}", "A letter with its files, queue state and thread", _ID, ""),
    ("post", "/api/crm/mail/{id}/client", "The sender becomes a client (or joins one)", _ID, "LetterClient"),
    ("post", "/api/crm/mail/{id}/resend", "Send a dead letter again", _ID, ""),
    ("get", "/api/crm/mail/attachments/{id}", "Download a letter's file", _ID, ""),
    ("get", "/api/crm/mailboxes", "Connected mailboxes (no passwords) and the queue", [], ""),
    ("post", "/api/crm/mailboxes", "Connect a mailbox (admins)", [], "Mailbox"),
    ("patch", "/api/crm/mailboxes/{id}", "Change or switch off a mailbox (admins)", _ID, "MailboxPatch"),
    ("post", "/api/crm/mailboxes/{id}/check", "Fetch new letters now", _ID, ""),
    ("get", "/api/crm/mail-templates", "Letter templates and their fields", [], ""),
    ("post", "/api/crm/mail-templates", "Add a letter template", [], "MailTemplate"),
    ("delete", "/api/crm/mail-templates/{id}", "Delete a letter template", _ID, ""),
]  # fmt: skip
