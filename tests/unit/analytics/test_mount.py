"""The service's mount path hands `numbering.lines` to analytics as the tracking numbers."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from adapters.builtin.routes import mount
from connector import config
from connector.api.app import create_app


async def test_configured_lines_become_tracking_numbers_when_the_crm_is_mounted(tmp_path: Path) -> None:
    data = {
        "ami": {"username": "u", "secret": "s"},
        "storage": {"dir": str(tmp_path), "recordings_dir": str(tmp_path / "monitor")},
        "numbering": {"lines": [{"number": "84951110001", "name": "Сайт"}]},
        "adapters": {"builtin": {"enabled": True}},
    }
    settings = config.loads(yaml.safe_dump(data, allow_unicode=True), "<test>")
    app = create_app(settings.http)
    store = mount(app, settings)
    assert store is not None
    await store.start()
    await store.employees.create("Анна", "200", "admin", "tok-admin")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/crm/tracking-numbers"
        async with (
            aiohttp.ClientSession() as http,
            http.get(url, headers={"Authorization": "Bearer tok-admin"}) as r,
        ):
            body = await r.json()
    finally:
        await runner.cleanup()
        await store.close()
    assert [(n["number"], n["name"]) for n in body["items"]] == [("+74951110001", "Сайт")]
