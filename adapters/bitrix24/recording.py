"""Recordings in a form Bitrix24 takes: attachRecord accepts only .mp3 and .wav.

MikoPBX normally leaves an mp3, but MixMonitor can be set to Asterisk's other formats (gsm, raw
signed linear, μ-law, A-law) and an upload of those is refused for good. Instead of dropping them,
they are converted to mp3 with sox (Debian: sox + libsox-fmt-mp3) into a temporary file that is
removed after the upload. A missing sox or a file sox cannot read is a permanent error that says
what to install or what was wrong; a conversion that hangs is cut off and retried later.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import PurePath

from connector.errors import PermanentError, TransientError

ACCEPTED = (".mp3", ".wav")
_RAW8K = ["-r", "8000", "-c", "1"]
# sox's options describing each input (raw formats carry no header, so rate and encoding are given)
INPUTS: dict[str, list[str]] = {
    ".gsm": ["-t", "gsm"],
    ".sln": ["-t", "raw", "-e", "signed", "-b", "16", *_RAW8K],
    ".raw": ["-t", "raw", "-e", "signed", "-b", "16", *_RAW8K],
    ".sln16": ["-t", "raw", "-e", "signed", "-b", "16", "-r", "16000", "-c", "1"],
    ".ul": ["-t", "ul", *_RAW8K],
    ".ulaw": ["-t", "ul", *_RAW8K],
    ".pcm": ["-t", "ul", *_RAW8K],
    ".al": ["-t", "al", *_RAW8K],
    ".alaw": ["-t", "al", *_RAW8K],
    ".ogg": [],
    ".flac": [],
}
CONVERT_SECONDS = 120.0


def upload_name(path: str) -> str:
    """The FILENAME the portal sees: the recording's own name, as mp3 when it is converted."""
    pure = PurePath(path)
    return pure.name if pure.suffix.lower() in ACCEPTED else pure.stem + ".mp3"


@contextlib.asynccontextmanager
async def accepted(path: str, adapter: str = "bitrix24") -> AsyncIterator[str]:
    """The path to upload: `path` itself when Bitrix24 takes it, else an mp3 made from it (removed
    when the context closes)."""
    suffix = PurePath(path).suffix.lower()
    if suffix in ACCEPTED:
        yield path
        return
    if suffix not in INPUTS:
        raise PermanentError(
            f"recording {PurePath(path).name}: unknown audio format {suffix!r}", adapter=adapter
        )
    sox = shutil.which("sox")
    if sox is None:
        raise PermanentError(
            f"recording {PurePath(path).name} is {suffix}: converting it to mp3 needs sox "
            "(apt install sox libsox-fmt-mp3)",
            adapter=adapter,
        )
    handle, target = tempfile.mkstemp(prefix="b24-rec-", suffix=".mp3")
    os.close(handle)
    try:
        await _convert(sox, path, target, INPUTS[suffix], adapter)
        yield target
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)


async def _convert(sox: str, source: str, target: str, options: list[str], adapter: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sox, *options, source, "-C", "64", target,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(CONVERT_SECONDS):
            _, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise TransientError(f"converting {PurePath(source).name} took too long", adapter=adapter) from None
    if proc.returncode != 0:
        reason = " ".join(err.decode(errors="replace").split())[:200]
        raise PermanentError(f"sox could not convert {PurePath(source).name}: {reason}", adapter=adapter)
