"""The widget archive: its manifest passes the schema written from amoCRM's documentation, the checker
catches what amoCRM would refuse, and `build` makes the zip amoCRM takes (manifest at the root)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]
FOLDER = ROOT / "amocrm-widget"


def _builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("amocrm_widget_build", FOLDER / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _builder()


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "widget"
    shutil.copytree(FOLDER, target, ignore=shutil.ignore_patterns("build.py", "__pycache__"))
    return target


def _edit(folder: Path, change: dict[str, object]) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for dotted, value in change.items():
        *path, last = dotted.split(".")
        node = manifest
        for part in path:
            node = node[part]
        node[last] = value
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_the_shipped_manifest_follows_amocrms_schema() -> None:
    assert build.check_manifest(FOLDER) == []


def test_the_checker_refuses_what_amocrm_would(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(
        folder,
        {
            "widget.interface_version": "2",
            "locations": ["everywhere-1", "ccard-2", "dashboard"],
            "settings.token.type": "password",
            "settings.public_url.name": "settings.nowhere",
        },
    )
    assert build.check_manifest(folder) == [
        "widget.interface_version: required int",
        "locations: 'everywhere-1' takes no suffix or only -0 / -1",
        "locations: 'ccard-2' takes no suffix or only -0 / -1",
        "locations: unknown area 'dashboard'",
        "settings.token.type: 'password' is not one of ['custom', 'pass', 'text', 'users', 'users_lp']",
        "i18n/ru.json: no text for settings.nowhere",
        "i18n/en.json: no text for settings.nowhere",
    ]


def test_every_locale_has_every_panel_text() -> None:
    texts = {
        locale: json.loads((FOLDER / "i18n" / f"{locale}.json").read_text(encoding="utf-8"))
        for locale in ("ru", "en")
    }
    assert {k: sorted(v["panel"]) for k, v in texts.items() if k != "ru"} == {
        "en": sorted(texts["ru"]["panel"])
    }


def test_the_archive_has_the_manifest_at_its_root_and_the_logos_at_their_sizes(tmp_path: Path) -> None:
    archive = build.build(FOLDER, tmp_path)
    with zipfile.ZipFile(archive) as z:
        names = sorted(z.namelist())
        sizes = {n: struct.unpack(">II", z.read(n)[16:24]) for n in names if n.endswith(".png")}
    assert (archive.name, names, sizes) == (
        "amocrm-widget-1.0.0.zip",
        [
            "i18n/en.json",
            "i18n/ru.json",
            "images/logo.png",
            "images/logo_main.png",
            "images/logo_medium.png",
            "images/logo_min.png",
            "images/logo_small.png",
            "manifest.json",
            "script.js",
            "style.css",
        ],
        {f"images/{name}": size for name, size in build.LOGOS.items()},
    )
