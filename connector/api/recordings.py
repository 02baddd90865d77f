"""Recordings over HTTP: HMAC-signed expiring links, confinement to the recordings folder, Range.

A link is `/recordings/<path under recordings_dir>?exp=<unix time>&sig=<hex HMAC-SHA256>`;
it works without a token until `exp`, so a CRM (amoCRM, Bitrix24) can play it. Without a valid
signature the caller must be authenticated and allowed to hear that recording. aiohttp's
`FileResponse` answers Range requests, so the browser player can seek.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from aiohttp import web

from connector import logs
from connector.api.auth import Principal
from connector.config import HttpSettings

log = logs.get_logger(__name__)

PREFIX = "/recordings/"
# MikoPBX may announce the MixMonitor name without an extension and convert it afterwards.
_SUFFIXES = ("", ".mp3", ".wav", ".ogg", ".webm")
_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".ogg": "audio/ogg", ".webm": "audio/webm"}

# Decides whether a signed-in caller may hear the recording at this path (relative to the root).
AccessCheck = Callable[[Principal, str], Awaitable[bool]]
# Told of each playback that starts (the caller, if known, and the path): the audit log listens.
ListenHook = Callable[[Principal | None, str, web.Request], Awaitable[None]]


class LinkSigner:
    """Signs and verifies (path, expiry) pairs with HMAC-SHA256."""

    def __init__(self, secret: str | bytes = b"", clock: Callable[[], float] = time.time) -> None:
        key = secret.encode("utf-8") if isinstance(secret, str) else secret
        self._key = key or secrets.token_bytes(32)  # no secret configured: links last one run
        self.clock = clock

    def signature(self, path: str, expires: int) -> str:
        """The hex signature of `path` valid until `expires` (unix seconds)."""
        message = f"{expires}\n{path}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, path: str, ttl: int) -> str:
        """The query string (`exp=...&sig=...`) that makes `path` readable for `ttl` seconds."""
        expires = int(self.clock()) + ttl
        return urlencode({"exp": expires, "sig": self.signature(path, expires)})

    def verify(self, path: str, expires: str, signature: str) -> bool:
        """Whether the signature matches and has not expired."""
        # A real expiry has 10 digits; a huge one would only cost a big-integer parse.
        if not expires.isdigit() or len(expires) > 12 or int(expires) < self.clock():
            return False
        return hmac.compare_digest(self.signature(path, int(expires)), signature)


@dataclass(frozen=True, slots=True)
class RecordingLinks:
    """Turns recording files into signed URLs and back into files, confined to `root`."""

    signer: LinkSigner
    root: Path
    ttl: int = 3600
    base_url: str = ""  # http.public_url; empty gives a path-only link for the daemon's own pages

    def relative(self, path: str | Path) -> str | None:
        """`path` relative to the recordings folder, or None when it lies outside it."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        try:
            return Path(_normpath(candidate)).relative_to(_normpath(self.root)).as_posix()
        except ValueError:
            return None

    def url(self, path: str | Path, ttl: int | None = None) -> str:
        """A signed, expiring link to the recording at `path` ('' if it is not a recording)."""
        rel = self.relative(path)
        if not rel:
            return ""
        query = self.signer.sign(rel, self.ttl if ttl is None else ttl)
        return f"{self.base_url.rstrip('/')}{PREFIX}{quote(rel)}?{query}"

    def locate(self, rel: str) -> Path | None:
        """The existing file for `rel`, resolved (symlinks included) and still under the root."""
        root = self.root.resolve()
        for suffix in _SUFFIXES:
            candidate = (root / (rel + suffix)).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None


def _normpath(path: Path) -> str:
    import os.path

    return os.path.normpath(path)


LINKS_KEY = web.AppKey("recording_links", RecordingLinks)
ACCESS_KEY: web.AppKey[AccessCheck] = web.AppKey("recording_access")
LISTEN_KEY: web.AppKey[ListenHook] = web.AppKey("recording_listened")


async def _default_access(principal: Principal, rel: str) -> bool:
    return principal.sees_all


async def serve(request: web.Request) -> web.StreamResponse:
    """GET /recordings/{path}: the file, for a valid signed link or an allowed user."""
    import asyncio

    from connector.api.app import AUTH_KEY, Problem

    links = request.app[LINKS_KEY]
    rel = request.match_info["path"]
    # NUL, control characters or an absurd length are no file name: 404, not an OSError or
    # ValueError ("embedded null byte") from the file system
    if ".." in Path(rel).parts or rel.startswith("/") or len(rel) > 1024 or not rel.isprintable():
        raise Problem(404, "Not Found", "no such recording")
    signed = links.signer.verify(rel, request.query.get("exp", ""), request.query.get("sig", ""))
    if not signed:
        principal = await request.app[AUTH_KEY].authenticate(request)
        if principal is None:
            raise Problem(401, "Unauthorized", "the link is invalid or has expired")
    try:
        file = await asyncio.to_thread(links.locate, rel)
    except (OSError, ValueError):  # a name too long for the file system, and the like
        file = None
    if file is None:
        raise Problem(404, "Not Found", "no such recording")
    if not signed:
        assert principal is not None
        allowed = await request.app.get(ACCESS_KEY, _default_access)(principal, rel)
        if not allowed:
            raise Problem(403, "Forbidden", "this recording belongs to another employee's call")
    await _tell_listen(request, rel)
    headers = {"Cache-Control": "private, max-age=300", "Accept-Ranges": "bytes"}
    content_type = _TYPES.get(file.suffix.lower())
    if content_type:
        headers["Content-Type"] = content_type
    return web.FileResponse(file, headers=headers)


async def _tell_listen(request: web.Request, rel: str) -> None:
    """Report a playback that starts (not each seek: a Range from byte 0 or none) to the hook."""
    from connector.api.app import AUTH_KEY

    hook = request.app.get(LISTEN_KEY)
    if hook is None or request.headers.get("Range", "bytes=0-").strip() not in ("bytes=0-", "bytes=0-1"):
        return
    try:
        # the page's player sends the session cookie with a signed link: the listener is known
        await hook(await request.app[AUTH_KEY].authenticate(request), rel, request)
    except Exception:  # isolation: a failed record never stops the playback
        log.exception("recordings.listen_hook_failed", path=rel)


def setup(app: web.Application, links: RecordingLinks, access: AccessCheck | None = None) -> None:
    """Mount GET /recordings/{path}; `access` decides who may hear a recording without a link.

    Mounted once: a later call keeps the first `links` (their key signs the links already given
    out) and only sets `access`.
    """
    if access is not None:
        app[ACCESS_KEY] = access
    if LINKS_KEY not in app:
        app[LINKS_KEY] = links
        app.router.add_get(PREFIX + "{path:.+}", serve, name="recordings")


def links_from_settings(http: HttpSettings, recordings_dir: Path) -> RecordingLinks:
    """The daemon's link maker: `http.link_secret` (random per run when empty), TTL, public URL."""
    return RecordingLinks(
        LinkSigner(http.link_secret.get()), recordings_dir, http.recording_link_ttl, http.public_url
    )
