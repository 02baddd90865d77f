"""Importing clients from CSV / XLSX with a column → field mapping, undo within 24 h, and export.

The rules follow the CRM.MP manual (2.10): the first sheet only, headers in the first row with no
gaps, at most 5,000 rows / 50 MB, the name is required, two columns mapped to one field are joined
with a space, an optional list name is given to every imported client, and an import can be
undone within 24 hours. Parsing is blocking work, so callers run `read_table` in a thread.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from adapters.builtin.custom_fields import FieldError, clean_value
from adapters.builtin.db import ConflictError, Database, NotFoundError, Row, iso, now_iso
from adapters.builtin.numbers import normalise

MAX_ROWS = 5_000
MAX_BYTES = 50 * 1024 * 1024
# Bounds on what a file may expand to, checked before and while it is read: an XLSX is a ZIP
# whose parts (shared strings above all) can unpack to gigabytes from a few kilobytes.
MAX_COLUMNS = 100
MAX_CELL = 10_000  # characters in one cell
MAX_CHARS = 10_000_000  # characters in the whole table
MAX_UNPACKED = 100 * 1024 * 1024  # bytes of all XLSX parts together, as the ZIP declares them
MAX_PART = 50 * 1024 * 1024  # bytes of one XLSX part
MAX_RATIO = 200  # unpacked / packed for any part larger than 1 MB unpacked
MAX_SHARED_STRINGS = 200_000
UNDO_WINDOW = timedelta(hours=24)
FIELDS = {
    "name": "Имя",
    "phone": "Телефон",
    "email": "E-mail",
    "notes": "Заметки",
    "company": "Организация",
    "responsible": "Ответственный (внутр. номер)",
}
_ACTIVITY = ("calls", "comments", "tasks", "reminders", "deals")


class ImportFileError(ValueError):
    """The file cannot be imported at all (format, size, headers)."""


@dataclass(frozen=True, slots=True)
class Table:
    """A file's header row and the data rows under it, as text."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def read_table(data: bytes, filename: str) -> Table:
    """The first sheet of an XLSX file, or a CSV file (UTF-8 or Windows-1251; , ; or tab).

    Bounded: `ImportFileError` for anything past the limits above, before it is expanded where
    the file says how big it is (ZIP sizes, shared-string counts) and while it is read otherwise.
    The daemon runs this in a worker process (`import_worker`) with a memory cap as well.
    """
    if len(data) > MAX_BYTES:
        raise ImportFileError("the file is larger than 50 MB")
    is_xlsx = filename.lower().endswith(".xlsx") or data[:2] == b"PK"  # XLSX is a ZIP archive
    return _table(_xlsx_rows(data) if is_xlsx else _csv_rows(data))


def _check_cells(row: Sequence[str], number: int, budget: list[int]) -> None:
    if len(row) > MAX_COLUMNS and any(cell.strip() for cell in row[MAX_COLUMNS:]):
        raise ImportFileError(f"row {number} has more than {MAX_COLUMNS} columns")
    for cell in row:
        if len(cell) > MAX_CELL:
            raise ImportFileError(f"row {number} has a cell longer than {MAX_CELL} characters")
        budget[0] += len(cell)
    if budget[0] > MAX_CHARS:
        raise ImportFileError(f"the file holds more than {MAX_CHARS} characters of text")


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1251")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[str]] = []
    budget = [0]
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_CELL + 2)  # a field past this is an error, not a 10 MB string
    try:
        for row in csv.reader(io.StringIO(text), dialect):
            _check_cells(row, len(rows) + 1, budget)
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                raise ImportFileError(f"the file has more than {MAX_ROWS} rows")
    except csv.Error as exc:
        raise ImportFileError(
            f"row {len(rows) + 1} cannot be read as CSV (a cell longer than {MAX_CELL} characters?): {exc}"
        ) from exc
    finally:
        csv.field_size_limit(limit)
    return rows


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        _check_zip(data)
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        if isinstance(exc, ImportFileError):
            raise
        raise ImportFileError(f"not a readable XLSX file: {exc}") from exc
    try:
        rows: list[list[str]] = []
        budget = [0]
        sheet = book.worksheets[0]
        for values in sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1):
            row = [_cell(v) for v in values]
            _check_cells(row, len(rows) + 1, budget)
            rows.append(row)
            if len(rows) > MAX_ROWS + 1:
                raise ImportFileError(f"the file has more than {MAX_ROWS} rows")
        return rows
    finally:
        book.close()


def _check_zip(data: bytes) -> None:
    """Refuse an XLSX whose parts would unpack past the bounds, before anything is unpacked."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = archive.infolist()
        if len(parts) > 1_000:
            raise ImportFileError("the XLSX file has more than 1000 parts")
        total = 0
        for part in parts:
            total += part.file_size
            ratio = part.file_size / max(part.compress_size, 1)
            if part.file_size > MAX_PART or (part.file_size > 1 << 20 and ratio > MAX_RATIO):
                raise ImportFileError(f"the XLSX part {part.filename} unpacks to {part.file_size} bytes")
        if total > MAX_UNPACKED:
            raise ImportFileError(f"the XLSX file unpacks to more than {MAX_UNPACKED} bytes")
        for part in parts:
            if part.filename.endswith((".xml", ".rels")):
                _check_xml(archive, part)


def _check_xml(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> None:
    """No DTD (entity expansion) in any part, and a bounded count of shared strings."""
    from xml.etree.ElementTree import iterparse

    with archive.open(part) as stream:
        if b"<!DOCTYPE" in stream.read(1 << 16).upper():  # a DTD comes before the root element
            raise ImportFileError(f"the XLSX part {part.filename} declares a DTD")
    if not part.filename.lower().endswith("sharedstrings.xml"):
        return
    count = 0
    with archive.open(part) as stream:
        for _, element in iterparse(stream, events=("end",)):
            if element.tag.rpartition("}")[2] == "si":
                count += 1
                element.clear()
                if count > MAX_SHARED_STRINGS:
                    raise ImportFileError(f"the XLSX file has more than {MAX_SHARED_STRINGS} shared strings")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # phone numbers typed as numbers come back as 79161234567.0
    return str(value).strip()


def _table(raw: list[list[str]]) -> Table:
    if not raw:
        raise ImportFileError("the file is empty")
    headers = [h.strip() for h in raw[0][:MAX_COLUMNS]]
    while headers and not headers[-1]:
        headers.pop()
    if not headers or "" in headers:
        raise ImportFileError("the first row must hold column headers, one after another with no gaps")
    if len(set(headers)) != len(headers):
        raise ImportFileError("column headers must be unique")
    width = len(headers)
    rows = [tuple((list(r) + [""] * width)[:width]) for r in raw[1:]]
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if len(rows) > MAX_ROWS:
        raise ImportFileError(f"the file has more than {MAX_ROWS} rows")
    return Table(tuple(headers), tuple(rows))


@dataclass(slots=True)
class Candidate:
    """One row as a client to create, with the file row number it came from (header = 1)."""

    row: int
    name: str
    phones: list[str] = field(default_factory=list)
    email: str = ""
    notes: str = ""
    company: str = ""
    responsible: str = ""
    bad_phones: list[str] = field(default_factory=list)  # cells that hold no phone number, as typed
    custom: dict[int, str] = field(default_factory=dict)  # custom field id → the cell as typed


def fields_with(custom: Sequence[Row]) -> dict[str, str]:
    """What a column can be mapped to: the card's own fields and the clients' custom ones (`f<id>`)."""
    return {**FIELDS, **{f"f{f['id']}": f["label"] for f in custom}}


def check_mapping(
    headers: Sequence[str], mapping: Mapping[str, str], known: Mapping[str, str] = FIELDS
) -> dict[str, str]:
    """The mapping limited to known columns and fields (ValueError naming what is wrong)."""
    unknown = [c for c in mapping if c not in headers]
    if unknown:
        raise ValueError(f"no such column: {', '.join(unknown)}")
    bad = sorted({f for f in mapping.values() if f and f not in known})
    if bad:
        raise ValueError(f"no such field: {', '.join(bad)}")
    clean = {c: f for c, f in mapping.items() if f}
    if "name" not in clean.values():
        raise ValueError("a column must be mapped to the name")
    return clean


def candidates(table: Table, mapping: Mapping[str, str]) -> list[Candidate]:
    """Each row as a client: columns mapped to one field are joined with a space, in file order."""
    out = []
    for number, row in enumerate(table.rows, start=2):
        values: dict[str, list[str]] = {}
        for header, cell in zip(table.headers, row, strict=True):
            if header in mapping and cell.strip():
                values.setdefault(mapping[header], []).append(cell.strip())
        joined = {k: " ".join(v) for k, v in values.items()}
        typed = [p.strip() for p in joined.pop("phone", "").replace(";", ",").split(",") if p.strip()]
        phones = [normalise(p) for p in typed]
        bad = [t for t, p in zip(typed, phones, strict=True) if not _is_phone(p)]
        fields = {k: joined.get(k, "") for k in _TEXT_FIELDS}
        custom = {int(k[1:]): v for k, v in joined.items() if k[:1] == "f" and k[1:].isdigit()}
        good = [p for p in phones if _is_phone(p)]
        out.append(Candidate(number, phones=good, bad_phones=bad, custom=custom, **fields))
    return out


_TEXT_FIELDS = ("name", "email", "notes", "company", "responsible")


@dataclass(slots=True)
class Report:
    """What an import did (or, dry, would do): rows read, clients created, errors by row."""

    rows: int
    created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    import_id: int | None = None
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The report as the API answers it."""
        return {
            "rows": self.rows,
            "created": self.created,
            "skipped": len(self.errors),
            "errors": self.errors,
            "import_id": self.import_id,
            "dry_run": self.dry_run,
        }


async def row_errors(
    db: Database, rows: list[Candidate], custom: Mapping[int, Row] | None = None
) -> dict[int, str]:
    """File row → why it cannot be imported: no name, a bad number, a number taken, no such employee,
    a value its custom field does not take."""
    taken = await _owned_numbers(db, [p for c in rows for p in c.phones])
    extensions = {r["extension"] for r in await db.fetch_all("SELECT extension FROM employees")}
    seen: dict[str, int] = {}
    errors: dict[int, str] = {}
    for c in rows:
        problem = _row_problem(c, taken, extensions, seen) or _custom_problem(c, custom or {})
        if problem:
            errors[c.row] = problem
        for phone in c.phones:
            seen.setdefault(phone, c.row)
    return errors


def _is_phone(phone: str) -> bool:
    return 2 <= len(phone.lstrip("+")) <= 15 and phone.lstrip("+").isdigit()


def _row_problem(c: Candidate, taken: dict[str, int], extensions: set[str], seen: dict[str, int]) -> str:
    """Why the row cannot be imported, in the words the import report shows ('' = it can)."""
    if not c.name:
        return "нет имени"
    if c.bad_phones:
        return f"«{c.bad_phones[0]}» — не номер телефона"
    for phone in c.phones:
        if phone in taken:
            return f"номер {phone} уже есть у клиента №{taken[phone]}"
        if phone in seen:
            return f"номер {phone} уже есть в строке {seen[phone]}"
    if c.email and "@" not in c.email:
        return f"«{c.email}» — не адрес e-mail"
    if c.responsible and c.responsible not in extensions:
        return f"нет сотрудника с внутренним номером {c.responsible}"
    return ""


_CUSTOM_WORDS = {
    "number": "не число",
    "date": "не дата (ГГГГ-ММ-ДД)",
    "list": "нет такого варианта",
    "phone": "не номер телефона",
    "email": "не адрес e-mail",
}


def _custom_problem(c: Candidate, custom: Mapping[int, Row]) -> str:
    for field_id, cell in c.custom.items():
        try:
            clean_value(custom[field_id], cell)
        except FieldError:
            words = _CUSTOM_WORDS.get(custom[field_id]["kind"], "не подходит")
            return f"{custom[field_id]['label']}: «{cell}» — {words}"
    return ""


async def _owned_numbers(db: Database, phones: list[str]) -> dict[str, int]:
    """Numbers already held by a client (not a contact card, which the import takes over)."""
    owned: dict[str, int] = {}
    for start in range(0, len(phones), 500):  # stay under SQLite's bound-parameter limit
        chunk = phones[start : start + 500]
        rows = await db.fetch_all(
            "SELECT p.phone, p.client_id FROM phones p JOIN clients c ON c.id = p.client_id"
            f" WHERE c.kind = 'client' AND p.phone IN ({', '.join('?' for _ in chunk)})",
            chunk,
        )
        owned.update({r["phone"]: r["client_id"] for r in rows})
    return owned


class Importer:
    """Creates clients from checked rows in one transaction, and undoes an import."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def run(
        self,
        rows: list[Candidate],
        *,
        filename: str,
        list_name: str,
        author_id: int | None,
        dry_run: bool,
        now: datetime,
        custom: Mapping[int, Row] | None = None,
    ) -> Report:
        """Import the rows that pass the checks; a dry run only reports what would happen.

        `custom`: the clients' custom fields by id (the rows' `custom` values are for them).
        """
        custom = custom or {}
        errors = await row_errors(self.db, rows, custom)
        report = Report(len(rows), errors=[{"row": r, "message": m} for r, m in sorted(errors.items())])
        good = [c for c in rows if c.row not in errors]
        report.dry_run = dry_run
        if dry_run:
            report.created = len(good)
            return report
        async with self.db.transaction() as conn:
            list_id = await _list_id(conn, list_name) if list_name else None
            cursor = await conn.execute(
                "INSERT INTO imports (filename, author_id, list_id, created, skipped, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (filename, author_id, list_id, len(good), len(errors), iso(now)),
            )
            report.import_id = int(cursor.lastrowid or 0)
            for c in good:
                await _create(conn, c, report.import_id, list_id, custom)
        report.created = len(good)
        return report

    async def list(self) -> list[Row]:
        """Recent imports, newest first."""
        return await self.db.fetch_all("SELECT * FROM imports ORDER BY id DESC LIMIT 50")

    async def undo(self, import_id: int, now: datetime) -> Row:
        """Remove what an import created (within 24 h); a client that has gained calls or notes
        since goes back to being a contact card, so no history is lost."""
        done = await self.db.fetch_one("SELECT * FROM imports WHERE id = ?", (import_id,))
        if done is None:
            raise NotFoundError("import", import_id)
        if done["undone_at"]:
            raise ConflictError(f"import {import_id} was already undone")
        if done["created_at"] < iso(now - UNDO_WINDOW):
            raise ConflictError(f"import {import_id} is older than 24 hours and can no longer be undone")
        async with self.db.transaction() as conn:
            async with conn.execute(
                "SELECT client_id FROM import_clients WHERE import_id = ?", (import_id,)
            ) as cur:
                ids = [int(r[0]) for r in await cur.fetchall()]
            for client_id in ids:
                await _remove(conn, client_id)
            await conn.execute("UPDATE imports SET undone_at = ? WHERE id = ?", (iso(now), import_id))
        row = await self.db.fetch_one("SELECT * FROM imports WHERE id = ?", (import_id,))
        assert row is not None
        return row


NO_LIMIT = 2**62  # LIMIT for all rows (PostgreSQL has no LIMIT -1)


async def _list_id(conn: Any, name: str) -> int:
    await conn.execute("INSERT INTO client_lists (name) VALUES (?) ON CONFLICT DO NOTHING", (name,))
    async with conn.execute("SELECT id FROM client_lists WHERE name = ?", (name,)) as cur:
        found = await cur.fetchone()
    return int(found[0])


async def _company_id(conn: Any, name: str) -> int | None:
    if not name:
        return None
    async with conn.execute("SELECT id FROM companies WHERE name = ? ORDER BY id LIMIT 1", (name,)) as cur:
        found = await cur.fetchone()
    if found is not None:
        return int(found[0])
    cursor = await conn.execute("INSERT INTO companies (name, created_at) VALUES (?, ?)", (name, now_iso()))
    return int(cursor.lastrowid or 0)


async def _create(
    conn: Any, c: Candidate, import_id: int, list_id: int | None, custom: Mapping[int, Row]
) -> None:
    stamp = now_iso()
    responsible = None
    if c.responsible:
        async with conn.execute("SELECT id FROM employees WHERE extension = ?", (c.responsible,)) as cur:
            responsible = (await cur.fetchone())[0]
    cursor = await conn.execute(
        "INSERT INTO clients (kind, name, email, notes, company_id, responsible_id, created_at, updated_at)"
        " VALUES ('client', ?, ?, ?, ?, ?, ?, ?)",
        (c.name, c.email, c.notes, await _company_id(conn, c.company), responsible, stamp, stamp),
    )
    client_id = int(cursor.lastrowid or 0)
    for phone in c.phones:
        await _take_number(conn, phone, client_id)
    await conn.execute(
        "INSERT INTO import_clients (import_id, client_id) VALUES (?, ?)", (import_id, client_id)
    )
    if list_id is not None:
        await conn.execute(
            "INSERT INTO client_list_members (list_id, client_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (list_id, client_id),
        )
    for field_id, cell in c.custom.items():
        value = clean_value(custom[field_id], cell)  # checked by row_errors already
        if value is not None:
            await conn.execute(
                "INSERT INTO custom_values (field_id, record_id, value, num) VALUES (?, ?, ?, ?)",
                (field_id, client_id, value[0], value[1]),
            )


async def _take_number(conn: Any, phone: str, client_id: int) -> None:
    """Give `phone` to the new client; a contact card holding it passes its history over."""
    async with conn.execute("SELECT client_id FROM phones WHERE phone = ?", (phone,)) as cur:
        owner = await cur.fetchone()
    if owner is None:
        await conn.execute("INSERT INTO phones (phone, client_id) VALUES (?, ?)", (phone, client_id))
        return
    card = int(owner[0])
    for table in ("phones", *_ACTIVITY):
        await conn.execute(f"UPDATE {table} SET client_id = ? WHERE client_id = ?", (client_id, card))
    await conn.execute("DELETE FROM clients WHERE id = ?", (card,))


async def _remove(conn: Any, client_id: int) -> None:
    has_history = " OR ".join(f"EXISTS (SELECT 1 FROM {t} WHERE client_id = ?)" for t in _ACTIVITY)
    async with conn.execute(f"SELECT {has_history}", [client_id] * len(_ACTIVITY)) as cur:
        keep = bool((await cur.fetchone())[0])
    if not keep:
        await conn.execute("DELETE FROM clients WHERE id = ?", (client_id,))
        return
    await conn.execute(
        "UPDATE clients SET kind = 'contact', name = '', email = '', notes = '', company_id = NULL,"
        " responsible_id = NULL, updated_at = ? WHERE id = ?",
        (now_iso(), client_id),
    )
    await conn.execute("DELETE FROM client_list_members WHERE client_id = ?", (client_id,))


# -- export ----------------------------------------------------------------------------------------------

EXPORT_COLUMNS = (
    "id",
    "name",
    "phones",
    "email",
    "company",
    "inn",
    "responsible",
    "lists",
    "notes",
    "created_at",
)
_EXPORT_SELECT = (
    "SELECT c.id, c.name,"
    " (SELECT group_concat(phone, ', ') FROM phones p WHERE p.client_id = c.id) AS phones,"
    " c.email, co.name AS company, co.inn, e.extension AS responsible,"
    " (SELECT group_concat(l.name, ', ') FROM client_list_members m JOIN client_lists l ON l.id = m.list_id"
    "  WHERE m.client_id = c.id) AS lists, c.notes, c.created_at"
    " FROM clients c LEFT JOIN companies co ON co.id = c.company_id"
    " LEFT JOIN employees e ON e.id = c.responsible_id"
    " WHERE c.kind = 'client'"
)


async def export_rows(
    db: Database, *, start: int = 1, count: int | None = None, list_name: str | None = None
) -> list[Row]:
    """Clients by number: all, `count` from the `start`-th (1-based), or the members of a list."""
    sql, params = _EXPORT_SELECT, list[Any]()
    if list_name:
        sql += " AND c.id IN (SELECT m.client_id FROM client_list_members m JOIN client_lists l"
        sql += " ON l.id = m.list_id WHERE l.name = ?)"
        params.append(list_name)
    sql += " ORDER BY c.id LIMIT ? OFFSET ?"
    params += [count if count is not None else NO_LIMIT, max(start, 1) - 1]
    return await db.fetch_all(sql, params)


async def with_custom(db: Database, rows: list[Row], custom: Sequence[Row]) -> list[tuple[str, str]]:
    """Add the clients' custom values to export rows (key `f<id>`); the extra columns (key, label)."""
    if not custom or not rows:
        return [(f"f{f['id']}", f["label"]) for f in custom]
    ids = [int(f["id"]) for f in custom]
    marks = ", ".join("?" * len(ids))
    values: dict[int, dict[str, str]] = {}
    for v in await db.fetch_all(
        f"SELECT field_id, record_id, value FROM custom_values WHERE field_id IN ({marks})", ids
    ):
        values.setdefault(int(v["record_id"]), {})[f"f{v['field_id']}"] = v["value"]
    for row in rows:
        row.update({f"f{i}": values.get(row["id"], {}).get(f"f{i}", "") for i in ids})
    return [(f"f{f['id']}", f["label"]) for f in custom]


def to_csv(
    rows: list[Row], extra: Sequence[tuple[str, str]] = (), columns: Sequence[str] | None = None
) -> bytes:
    """Rows as CSV with a header, UTF-8 with a BOM so spreadsheet programs read Cyrillic right.

    `extra`: more columns (key in the rows, header label): the custom fields. `columns`: the
    keys chosen (manual: «Выберите поля, которые необходимо выгрузить»), in the export's own
    order; None: every one.
    """
    own = [k for k in EXPORT_COLUMNS if columns is None or k in columns]
    more = [(key, label) for key, label in extra if columns is None or key in columns]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*own, *(label for _, label in more)])
    for row in rows:
        writer.writerow([safe_cell(row[k]) for k in (*own, *(key for key, _ in more))])
    return out.getvalue().encode("utf-8-sig")


def export_columns(wanted: str, custom: Sequence[Row]) -> list[str] | None:
    """The `fields` query of an export as column keys (None: all); ValueError names a wrong one."""
    keys = [k.strip() for k in wanted.split(",") if k.strip()]
    if not keys:
        return None
    known = {*EXPORT_COLUMNS, *(f"f{f['id']}" for f in custom)}
    wrong = [k for k in keys if k not in known]
    if wrong:
        raise ValueError(f"no field {wrong[0][:40]!r} to export")
    return keys


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will not run as a formula (a quote before =, @, + or - text)."""
    if not isinstance(value, str):
        return "" if value is None else value
    risky = value.startswith(("=", "@", "\t", "\r")) or (
        value.startswith(("+", "-"))
        and not value[1:].replace(" ", "").replace(",", "").replace("+", "").isdigit()
    )
    return "'" + value if risky else value
