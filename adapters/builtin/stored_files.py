"""Files kept beside the CRM's database (a letter's attachments, a card's file fields): stored under
their SHA-256, written once and atomically, and served only as downloads.

A download is never shown inline: `application/octet-stream`, `Content-Disposition: attachment` and
`nosniff`, so an uploaded HTML or SVG cannot run as a page of the CRM.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from connector.api.app import Problem


def path_of(root: Path, digest: str) -> Path:
    """Where the bytes with this SHA-256 live under `root`."""
    return root / digest[:2] / digest


def write_once(path: Path, data: bytes) -> None:
    """Write `path` atomically unless it exists (same name, same bytes)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


async def keep(root: Path, data: bytes) -> str:
    """Store `data` under `root` (once); its SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    await asyncio.to_thread(write_once, path_of(root, digest), data)
    return digest


async def read_upload(request: web.Request, limit: int) -> bytes:
    """The request's raw body, refused with 413 past `limit` bytes (read in pieces, never all first)."""
    if request.content_length is not None and request.content_length > limit:
        raise Problem(413, "Content Too Large", f"файл больше {limit // 2**20} МБ")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise Problem(413, "Content Too Large", f"файл больше {limit // 2**20} МБ")
        chunks.append(chunk)
    return b"".join(chunks)


def download(path: Path, name: str) -> web.FileResponse:
    """The file as a download named `name` (never rendered by the browser)."""
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
        },
    )
