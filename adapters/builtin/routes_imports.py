"""REST routes for importing clients (admins and managers) and exporting them (admins only).

Uploads are multipart forms read in chunks and refused past 50 MB, so the app's small default
body limit still guards every other route; parsing runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from adapters.builtin import import_worker, importer
from adapters.builtin.campaigns import ensure_schema
from adapters.builtin.handlers import caller, ok, store_of
from adapters.builtin.periods import config_of
from adapters.builtin.validate import invalid, path_id, query_int
from connector.api.app import Problem
from connector.api.auth import Principal

_CHUNK = 256 * 1024


@dataclass(slots=True)
class Upload:
    """The parts of an import form."""

    filename: str = ""
    data: bytes = b""
    mapping: str = "{}"
    list_name: str = ""
    dry_run: bool = False


async def _importer(request: web.Request) -> Principal:
    principal = await caller(request)
    if not principal.sees_all:
        raise Problem(403, "Forbidden", "imports are for admins and managers")
    await ensure_schema(store_of(request).db)
    return principal


async def read_upload(request: web.Request) -> Upload:
    """The multipart form: file, mapping (JSON), list_name, dry_run; 413 past 50 MB."""
    if not request.content_type.startswith("multipart/"):
        raise Problem(415, "Unsupported Media Type", "send multipart/form-data with a file")
    upload = Upload()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            upload.filename = part.filename or "upload"
            upload.data = await _read_limited(part)
        elif part.name in ("mapping", "list_name", "dry_run"):
            value = (await part.read(decode=True)).decode("utf-8")[:10_000]
            _set_text(upload, part.name, value)
    if not upload.data:
        raise invalid("file", "is required")
    return upload


def _set_text(upload: Upload, name: str, value: str) -> None:
    if name == "mapping":
        upload.mapping = value or "{}"
    elif name == "list_name":
        upload.list_name = value.strip()[:100]
    else:
        upload.dry_run = value.strip().lower() in ("1", "true", "yes", "on")


async def _read_limited(part: BodyPartReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(_CHUNK):
        size += len(chunk)
        if size > importer.MAX_BYTES:
            raise Problem(413, "Content Too Large", "the file is larger than 50 MB")
        chunks.append(chunk)
    return b"".join(chunks)


async def _table(upload: Upload) -> importer.Table:
    try:
        # in a capped worker process: an import bomb cannot take the daemon's memory
        return await import_worker.read_table(upload.data, upload.filename)
    except importer.ImportFileError as exc:
        raise invalid("file", str(exc)) from exc


async def preview(request: web.Request) -> web.Response:
    """POST /api/crm/imports/preview (multipart file): headers, five sample rows, fields to map to."""
    await _importer(request)
    table = await _table(await read_upload(request))
    custom = await store_of(request).custom.definitions("client")
    return ok(
        {
            "headers": list(table.headers),
            "rows": len(table.rows),
            "sample": [list(r) for r in table.rows[:5]],
            "fields": importer.fields_with(custom),
        }
    )


async def run_import(request: web.Request) -> web.Response:
    """POST /api/crm/imports (multipart file, mapping, list_name?, dry_run?): import or rehearse."""
    principal = await _importer(request)
    upload = await read_upload(request)
    table = await _table(upload)
    custom = await store_of(request).custom.definitions("client")
    try:
        mapping = json.loads(upload.mapping)
        if not isinstance(mapping, dict):
            raise ValueError("must be a JSON object of column → field")
        clean = importer.check_mapping(
            table.headers, {str(k): str(v or "") for k, v in mapping.items()}, importer.fields_with(custom)
        )
    except ValueError as exc:  # json.JSONDecodeError is a ValueError too
        raise invalid("mapping", str(exc)) from exc
    report = await importer.Importer(store_of(request).db).run(
        importer.candidates(table, clean),
        filename=upload.filename,
        list_name=upload.list_name,
        author_id=principal.employee_id,
        dry_run=upload.dry_run,
        now=config_of(request).clock(),
        custom={f["id"]: f for f in custom},
    )
    return ok(report.as_dict(), 200 if upload.dry_run else 201)


async def list_imports(request: web.Request) -> web.Response:
    """GET /api/crm/imports: recent imports."""
    await _importer(request)
    return ok({"items": await importer.Importer(store_of(request).db).list()})


async def undo_import(request: web.Request) -> web.Response:
    """DELETE /api/crm/imports/{id}: undo an import made within the last 24 hours."""
    await _importer(request)
    clock = config_of(request).clock
    return ok(await importer.Importer(store_of(request).db).undo(path_id(request), clock()))


async def export(request: web.Request) -> web.StreamResponse:
    """GET /api/crm/export?start=&count=&list=&fields=: clients as CSV (admins only); `fields`
    chooses the columns (id, name, phones, ... and f<id> for custom fields; all when absent)."""
    principal = await caller(request)
    if not principal.is_admin:
        raise Problem(403, "Forbidden", "only admins export clients")
    await ensure_schema(store_of(request).db)
    count = query_int(request, "count", 0) or None
    start = query_int(request, "start", 1)
    if start < 1 or (count is not None and count < 1):
        raise invalid("start", "start and count must be 1 or more")
    rows = await importer.export_rows(
        store_of(request).db, start=start, count=count, list_name=request.query.get("list") or None
    )
    custom = await store_of(request).custom.definitions("client")
    try:
        columns = importer.export_columns(request.query.get("fields", ""), custom)
    except ValueError as exc:
        raise invalid("fields", str(exc)) from exc
    extra = await importer.with_custom(store_of(request).db, rows, custom)
    body = await asyncio.to_thread(importer.to_csv, rows, extra, columns)
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="clients.csv"'},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount these routes."""
    router.add_post("/api/crm/imports/preview", preview)
    router.add_post("/api/crm/imports", run_import)
    router.add_get("/api/crm/imports", list_imports)
    router.add_delete("/api/crm/imports/{id}", undo_import)
    router.add_get("/api/crm/export", export)
