"""Fields an admin adds to the client, company, deal and task cards (manual, seed 003: «Как создать свои
поля», «Настройка полей в карточке организации», «Как добавить поле в карточку сделки», «дополнительное
поле в карточку задачи»).

A field has a label, a kind (text, number, date, list, phone, e-mail, file) and, for a list, its options;
fields are ordered and can be hidden (kept, not shown) or deleted (with their values). Values are
stored as text in one table keyed by (field, record), numbers also as numbers so the super-filter
compares them as such; dates as YYYY-MM-DD. A value is checked against its field's kind, and a change
on a client or deal card is journalled with who made it, like any other edit of the card.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from adapters.builtin import journal
from adapters.builtin.db import Database, NotFoundError, Row, now_iso
from adapters.builtin.numbers import normalise

ENTITIES = ("client", "company", "deal", "task")
KINDS = ("text", "number", "date", "list", "phone", "email", "file")
KIND_NAMES = {
    "text": "Текст",
    "number": "Число",
    "date": "Дата",
    "list": "Список",
    "phone": "Телефон",
    "email": "E-mail",
    "file": "Файл",
}
MAX_FIELDS = 50  # per card
MAX_OPTIONS = 50
MAX_TEXT = 1000
MAX_FILE_BYTES = 10 * 2**20  # one file in a file field
MAX_FILE_NAME = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS custom_fields (
    id          INTEGER PRIMARY KEY,
    entity      TEXT NOT NULL CHECK (entity IN ('client', 'company', 'deal', 'task')),
    label       TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'list', 'phone', 'email', 'file')),
    options     TEXT NOT NULL DEFAULT '[]',
    position    INTEGER NOT NULL DEFAULT 0,
    hidden      INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    UNIQUE (entity, label)
);
CREATE TABLE IF NOT EXISTS custom_values (
    field_id    INTEGER NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
    record_id   INTEGER NOT NULL,
    value       TEXT NOT NULL,
    num         REAL,
    PRIMARY KEY (field_id, record_id)
);
CREATE INDEX IF NOT EXISTS custom_values_value ON custom_values(field_id, value);
CREATE INDEX IF NOT EXISTS custom_values_record ON custom_values(record_id, field_id);
-- A file field's file: its value (above) is the file's name, its bytes are kept under their SHA-256.
CREATE TABLE IF NOT EXISTS custom_files (
    field_id    INTEGER NOT NULL REFERENCES custom_fields(id) ON DELETE CASCADE,
    record_id   INTEGER NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY (field_id, record_id)
);
"""


async def ensure_schema(db: Database) -> None:
    """Create the tables (idempotent); a database made before tasks had fields lets them have some."""
    await db.apply_script(SCHEMA)
    await db.widen_check("custom_fields", "entity", ENTITIES)
    await db.widen_check("custom_fields", "kind", KINDS)


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file kept by stored_files: the name it was uploaded with, its SHA-256 and size."""

    name: str
    sha256: str
    size: int


class FieldError(ValueError):
    """A definition or a value the rules refuse; `field` names what to correct."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def clean_value(field: Row, raw: Any) -> tuple[str, float | None] | None:
    """`raw` as stored for `field` (text, and the number for a number); None clears the value."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    kind, name = field["kind"], str(field["id"])
    if kind == "number":
        return _number(raw, name)
    if not isinstance(raw, str):
        raise FieldError(name, "must be a string")
    text = raw.strip()
    if len(text) > MAX_TEXT:
        raise FieldError(name, f"must be at most {MAX_TEXT} characters")
    if kind == "date":
        try:
            return date.fromisoformat(text[:10]).isoformat(), None
        except ValueError as exc:
            raise FieldError(name, "must be a date (YYYY-MM-DD)") from exc
    if kind == "list" and text not in field["options"]:
        raise FieldError(name, "must be one of the list's options")
    if kind == "phone":
        phone = normalise(text)
        if not 2 <= len(phone.lstrip("+")) <= 15:
            raise FieldError(name, f"{text!r} is not a phone number")
        return phone, None
    if kind == "email":
        if not _EMAIL.match(text):
            raise FieldError(name, f"{text!r} is not an e-mail address")
        return text.lower(), None
    return text, None


def _number(raw: Any, name: str) -> tuple[str, float]:
    if isinstance(raw, bool):
        raise FieldError(name, "must be a number")
    if isinstance(raw, int | float):
        value = float(raw)
    elif isinstance(raw, str):
        try:  # as people type them: «1 234,5»
            value = float(raw.replace("\u00a0", "").replace(" ", "").replace(",", "."))
        except ValueError as exc:
            raise FieldError(name, "must be a number") from exc
    else:
        raise FieldError(name, "must be a number")
    if not math.isfinite(value) or abs(value) > 1e15:
        raise FieldError(name, "must be a number")
    return (str(int(value)) if value.is_integer() else repr(value)), value


def _options(kind: str, options: Sequence[str] | None) -> list[str]:
    if kind != "list":
        return []
    names = list(dict.fromkeys(o.strip() for o in options or () if o.strip()))
    if not 1 <= len(names) <= MAX_OPTIONS:
        raise FieldError("options", f"a list has 1 to {MAX_OPTIONS} options")
    return names


def _present(row: Row) -> Row:
    return {**row, "options": json.loads(row["options"]), "hidden": bool(row["hidden"])}


class CustomFields:
    """Definitions of custom fields and their values on records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def definitions(self, entity: str, *, shown_only: bool = False) -> list[Row]:
        """The entity's fields in their order (hidden ones too unless `shown_only`)."""
        hidden = " AND hidden = 0" if shown_only else ""
        rows = await self.db.fetch_all(
            f"SELECT * FROM custom_fields WHERE entity = ?{hidden} ORDER BY position, id", (entity,)
        )
        return [_present(r) for r in rows]

    async def get(self, field_id: int) -> Row:
        """One field (NotFoundError if absent)."""
        row = await self.db.fetch_one("SELECT * FROM custom_fields WHERE id = ?", (field_id,))
        if row is None:
            raise NotFoundError("field", field_id)
        return _present(row)

    async def define(self, entity: str, label: str, kind: str, options: Sequence[str] | None = None) -> Row:
        """Add a field at the end of the card."""
        label = " ".join(label.split())
        if not label or len(label) > 60:
            raise FieldError("label", "must be 1 to 60 characters")
        count = int(
            await self.db.scalar("SELECT COUNT(*) FROM custom_fields WHERE entity = ?", (entity,)) or 0
        )
        if count >= MAX_FIELDS:
            raise FieldError("label", f"a card has at most {MAX_FIELDS} fields")
        await self._label_free(entity, label)
        new_id = await self.db.write(
            "INSERT INTO custom_fields (entity, label, kind, options, position, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (entity, label, kind, json.dumps(_options(kind, options), ensure_ascii=False), count, now_iso()),
        )
        return await self.get(new_id)

    async def change(self, field_id: int, changes: Mapping[str, Any]) -> Row:
        """Rename a field, change a list's options, hide or show it, move it (`position`)."""
        field = await self.get(field_id)
        sets: dict[str, Any] = {}
        if "label" in changes:
            label = " ".join(str(changes["label"]).split())
            if not label or len(label) > 60:
                raise FieldError("label", "must be 1 to 60 characters")
            if label != field["label"]:
                await self._label_free(field["entity"], label)
            sets["label"] = label
        if "options" in changes:
            sets["options"] = json.dumps(_options(field["kind"], changes["options"]), ensure_ascii=False)
        if "hidden" in changes:
            sets["hidden"] = int(bool(changes["hidden"]))
        order = [f["id"] for f in await self.definitions(field["entity"])]
        if "position" in changes:  # the field at that place, the others renumbered around it
            order.remove(field_id)
            order.insert(max(0, min(int(changes["position"]), len(order))), field_id)
        async with self.db.transaction() as conn:
            if sets:
                assignments = ", ".join(f"{k} = ?" for k in sets)
                await conn.execute(
                    f"UPDATE custom_fields SET {assignments} WHERE id = ?", [*sets.values(), field_id]
                )
            if "position" in changes:
                await conn.executemany(
                    "UPDATE custom_fields SET position = ? WHERE id = ?",
                    [(n, i) for n, i in enumerate(order)],
                )
        return await self.get(field_id)

    async def remove(self, field_id: int) -> None:
        """Delete a field and every value of it."""
        await self.get(field_id)
        async with self.db.transaction() as conn:
            await conn.execute("DELETE FROM custom_values WHERE field_id = ?", (field_id,))
            await conn.execute("DELETE FROM custom_fields WHERE id = ?", (field_id,))

    async def of_record(self, entity: str, record_id: int) -> list[Row]:
        """The entity's shown fields, each with the record's value ("" when unset)."""
        fields = await self.definitions(entity, shown_only=True)
        values = (await self.values_of([f["id"] for f in fields], [record_id])).get(record_id, {})
        return [{**f, "value": values.get(f["id"], "")} for f in fields]

    async def values_of(
        self, field_ids: Sequence[int], record_ids: Sequence[int]
    ) -> dict[int, dict[int, str]]:
        """record → field → value, for the records of a page and the columns it shows."""
        if not field_ids or not record_ids:
            return {}
        fids = ", ".join("?" * len(field_ids))
        rids = ", ".join("?" * len(record_ids))
        rows = await self.db.fetch_all(
            f"SELECT field_id, record_id, value FROM custom_values WHERE field_id IN ({fids})"
            f" AND record_id IN ({rids})",
            [*field_ids, *record_ids],
        )
        out: dict[int, dict[int, str]] = {}
        for r in rows:
            out.setdefault(int(r["record_id"]), {})[int(r["field_id"])] = r["value"]
        return out

    async def set_values(
        self, entity: str, record: Row, values: Mapping[int, Any], by: int | None = None
    ) -> list[Row]:
        """Set (or clear, with None or "") values of the record's fields; checked, then written at once.

        A client's or deal's change is journalled («Поле: было → стало») with who made it.
        """
        fields = {f["id"]: f for f in await self.definitions(entity)}
        cleaned: dict[int, tuple[str, float | None] | None] = {}
        for field_id, raw in values.items():
            if field_id not in fields:
                raise FieldError(str(field_id), f"no such field of a {entity}")
            if fields[field_id]["kind"] == "file" and raw not in (None, ""):
                raise FieldError(
                    str(field_id), "a file is uploaded to …/fields/{id}/file; here only cleared (null)"
                )
            cleaned[field_id] = clean_value(fields[field_id], raw)
        before = (await self.values_of(list(cleaned), [record["id"]])).get(record["id"], {})
        async with self.db.transaction() as conn:
            for field_id, value in cleaned.items():
                if value is None:
                    for table in ("custom_values", "custom_files"):
                        await conn.execute(
                            f"DELETE FROM {table} WHERE field_id = ? AND record_id = ?",
                            (field_id, record["id"]),
                        )
                else:
                    await conn.execute(
                        "INSERT INTO custom_values (field_id, record_id, value, num) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT (field_id, record_id)"
                        " DO UPDATE SET value = excluded.value, num = excluded.num",
                        (field_id, record["id"], value[0], value[1]),
                    )
                old, new = before.get(field_id, ""), value[0] if value else ""
                if old != new and entity in ("client", "deal"):
                    text = f"{fields[field_id]['label']}: {journal.describe(old)} → {journal.describe(new)}"
                    await _journal(conn, entity, record, text, by)
        return await self.of_record(entity, record["id"])

    async def set_file(
        self, entity: str, record: Row, field_id: int, stored: StoredFile, *, by: int | None = None
    ) -> list[Row]:
        """Put a stored file in a file field: the value shown (lists, filter, history) is its name."""
        name, digest, size = stored.name, stored.sha256, stored.size
        field = await self.get(field_id)
        if field["entity"] != entity or field["kind"] != "file":
            raise FieldError(str(field_id), f"not a file field of a {entity}")
        before = (await self.values_of([field_id], [record["id"]])).get(record["id"], {}).get(field_id, "")
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO custom_values (field_id, record_id, value, num) VALUES (?, ?, ?, NULL)"
                " ON CONFLICT (field_id, record_id) DO UPDATE SET value = excluded.value, num = NULL",
                (field_id, record["id"], name),
            )
            await conn.execute(
                "INSERT INTO custom_files (field_id, record_id, sha256, size) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (field_id, record_id)"
                " DO UPDATE SET sha256 = excluded.sha256, size = excluded.size",
                (field_id, record["id"], digest, size),
            )
            if entity in ("client", "deal"):
                text = f"{field['label']}: {journal.describe(before)} → {journal.describe(name)}"
                await _journal(conn, entity, record, text, by)
        return await self.of_record(entity, record["id"])

    async def file_of(self, field_id: int, record_id: int) -> Row:
        """A file field's file on a record: name, sha256, size (NotFoundError when there is none)."""
        row = await self.db.fetch_one(
            "SELECT v.value AS name, f.sha256, f.size FROM custom_files f JOIN custom_values v"
            " ON v.field_id = f.field_id AND v.record_id = f.record_id"
            " WHERE f.field_id = ? AND f.record_id = ?",
            (field_id, record_id),
        )
        if row is None:
            raise NotFoundError("file", field_id)
        return row

    async def _label_free(self, entity: str, label: str) -> None:
        taken = await self.db.scalar(
            "SELECT id FROM custom_fields WHERE entity = ? AND label = ?", (entity, label)
        )
        if taken is not None:
            raise FieldError("label", f"a field «{label}» exists on this card")


async def _journal(conn: Any, entity: str, record: Row, text: str, by: int | None) -> None:
    if entity == "client":
        await journal.write(conn, "change", text, client_id=record["id"], employee_id=by)
    else:
        title = f"Сделка «{record['title']}», {text[0].lower()}{text[1:]}"
        await journal.write(
            conn, "deal", title, client_id=record.get("client_id"), deal_id=record["id"], employee_id=by
        )


def columns_of(fields: Iterable[Row]) -> dict[str, str]:
    """The custom fields as list columns: key `f<id>` → label."""
    return {f"f{f['id']}": f["label"] for f in fields}
