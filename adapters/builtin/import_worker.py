"""Read an import file in a child process that cannot take the daemon's memory.

An XLSX is a ZIP of XML: however carefully it is checked first (`importer.read_table`), parsing
it is the part that can still blow up. So the daemon hands the bytes to a fresh Python process
(`python -m adapters.builtin.import_worker`) that caps its own address space and CPU time before
it reads anything, and answers one JSON line: the table, or the reason it was refused. A worker
that dies (memory cap, CPU cap, a crash) or takes too long is a clear `ImportFileError` (422),
and the daemon never held more than the upload and the bounded answer.

A frozen daemon (PyInstaller, the MikoPBX module) has no `-m`: there the bounded parser runs in a
thread, relying on the checks in `importer` alone.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys

from adapters.builtin import importer

MEMORY = 1 << 30  # bytes of address space the worker may use
SECONDS = 60  # CPU seconds the worker may use; the daemon waits this long plus a little


async def read_table(
    data: bytes, filename: str, *, memory: int = MEMORY, seconds: int = SECONDS
) -> importer.Table:
    """`importer.read_table` in a capped worker process; `ImportFileError` when it is refused."""
    if getattr(sys, "frozen", False):
        return await asyncio.to_thread(importer.read_table, data, filename)
    kind = "upload.xlsx" if filename.lower().endswith(".xlsx") else "upload.csv"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.builtin.import_worker",
        str(memory),
        str(seconds),
        kind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(seconds + 10):
            out, _ = await process.communicate(data)
    except TimeoutError:
        raise importer.ImportFileError("the file took too long to read") from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return _answer(out, process.returncode)


def _answer(out: bytes, code: int | None) -> importer.Table:
    try:
        answer = json.loads(out)
    except ValueError:
        answer = None
    if code != 0 or not isinstance(answer, dict):
        raise importer.ImportFileError(
            "the file could not be read within the memory and time allowed for imports"
        )
    if "error" in answer:
        raise importer.ImportFileError(str(answer["error"]))
    return importer.Table(tuple(answer["headers"]), tuple(tuple(row) for row in answer["rows"]))


def main(argv: list[str]) -> int:
    """The worker: cap itself, read stdin, print the table or the refusal as JSON."""
    memory, seconds, filename = int(argv[0]), int(argv[1]), argv[2]
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds))
    data = sys.stdin.buffer.read(importer.MAX_BYTES + 1)
    try:
        table = importer.read_table(data, filename)
    except importer.ImportFileError as exc:
        answer: dict[str, object] = {"error": str(exc)}
    else:
        answer = {"headers": list(table.headers), "rows": [list(row) for row in table.rows]}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
