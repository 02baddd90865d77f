"""The built-in CRM's web pages: one HTML page with plain JS and CSS, no build step."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")


async def index(request: web.Request) -> web.FileResponse:
    """GET /crm/: the single page (sign-in, calls, client card, screen pop)."""
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


async def admin(request: web.Request) -> web.FileResponse:
    """GET /crm/admin: employees and the audit log (the page itself checks the role via the API)."""
    return web.FileResponse(STATIC / "admin.html", headers={"Cache-Control": "no-cache"})


async def to_index(request: web.Request) -> web.StreamResponse:
    """GET /crm and GET /: to the pages."""
    raise web.HTTPFound("/crm/")


def add_routes(router: web.UrlDispatcher) -> None:
    """Mount the pages and their static files."""
    router.add_get("/crm/", index)
    router.add_get("/crm", to_index)
    router.add_get("/crm/admin", admin)
    router.add_get("/", to_index)
    router.add_static("/crm/static/", STATIC, append_version=False)
