"""Mounting the CRM on the daemon's app from the configuration, as the service does."""

from __future__ import annotations

from pathlib import Path

import yaml

from adapters.builtin.handlers import STORE_KEY
from adapters.builtin.routes import mount
from connector import config
from connector.api.app import create_app
from connector.config import Settings


def _settings(tmp_path: Path, enabled: bool = True) -> Settings:
    data = {
        "ami": {"username": "u", "secret": "s"},
        "storage": {"dir": str(tmp_path), "recordings_dir": str(tmp_path / "monitor")},
        "adapters": {"builtin": {"enabled": enabled}},
    }
    return config.loads(yaml.safe_dump(data), "<test>")


def test_the_crm_is_mounted_with_its_database_under_the_state_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = create_app(settings.http)
    store = mount(app, settings)
    assert store is not None and store.db.path == tmp_path / "builtin.db" and app[STORE_KEY] is store


def test_mounting_twice_is_harmless(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = create_app(settings.http)
    first = mount(app, settings)
    routes = len(app.router.routes())
    assert mount(app, settings) is first and len(app.router.routes()) == routes


def test_a_disabled_crm_is_not_mounted(tmp_path: Path) -> None:
    settings = _settings(tmp_path, enabled=False)
    app = create_app(settings.http)
    assert mount(app, settings) is None and STORE_KEY not in app


def test_the_adapter_and_the_routes_share_one_store(tmp_path: Path) -> None:
    from adapters.builtin import create, with_storage
    from adapters.builtin.adapter import BuiltinAdapter
    from connector.crm import AdapterContext, MemoryState

    settings = _settings(tmp_path)
    app = create_app(settings.http)
    store = mount(app, settings)
    context = AdapterContext("builtin", session=None, state=MemoryState())  # type: ignore[arg-type]  # unused here
    adapter = create(with_storage(settings.adapters["builtin"], tmp_path), context)
    assert isinstance(adapter, BuiltinAdapter) and adapter.store is store
