"""Build the amoCRM widget archive: check the manifest against amoCRM's documented schema, draw the
logos amoCRM asks for, and zip it all into dist/amocrm-widget-<version>.zip (`make amocrm-widget`).

The schema below is written from amoCRM's widget documentation (developers: «Структура виджета»,
«manifest.json», «Области подключения», «Типы полей настроек»): the `widget` block and its keys,
the connection areas (`lcard-1` / `llist-0` style, `everywhere` without the suffix), the settings
field types, i18n keys that exist in every locale file, and the logo files with their sizes.
Only the standard library is used, so the archive builds on a bare Debian.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import sys
import zipfile
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
WIDGET_KEYS = {
    "name": str,
    "description": str,
    "short_description": str,
    "version": str,
    "interface_version": int,
    "init_once": bool,
    "locale": list,
    "installation": bool,
}
AREAS = {
    "lcard", "cucard", "ccard", "comcard", "llist", "culist", "clist", "tlist", "settings",
    "advanced_settings", "card_sdk", "catalogs", "digital_pipeline", "lead_sources", "everywhere",
    "widget_page", "sms", "mobile_card", "salesbot_designer", "website_chat_button", "whatsapp_modal",
    "amoforms", "personal_page", "ai_agent",
}  # fmt: skip
NO_SUFFIX = {"everywhere", "settings", "advanced_settings", "card_sdk", "catalogs", "digital_pipeline",
             "lead_sources", "widget_page", "sms", "mobile_card", "salesbot_designer",
             "website_chat_button", "whatsapp_modal", "amoforms", "personal_page", "ai_agent"}  # fmt: skip
FIELD_TYPES = {"text", "pass", "users", "users_lp", "custom"}
LOCALES = {"ru", "en", "es", "pt", "tr", "id"}
LOGOS = {  # file → (width, height), as amoCRM's «Структура виджета» lists them
    "logo.png": (130, 100),
    "logo_min.png": (84, 84),
    "logo_medium.png": (240, 84),
    "logo_main.png": (400, 272),
    "logo_small.png": (108, 108),
}
FILES = ("manifest.json", "script.js", "style.css")
MAX_IMAGE = 300 * 1024  # «Размер каждого файла не должен превышать 300 КБ»


def check_manifest(folder: Path) -> list[str]:
    """Every way `folder`'s manifest (and the files it names) breaks the documented schema."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"manifest.json: {exc}"]
    if not isinstance(manifest, dict):
        return ["manifest.json: the top level must be an object"]
    problems = _widget_block(manifest.get("widget"))
    locales = manifest.get("widget", {}).get("locale", []) if isinstance(manifest.get("widget"), dict) else []
    problems += _locations(manifest.get("locations"))
    problems += _settings(manifest.get("settings", {}))
    problems += _i18n(folder, manifest, [x for x in locales if isinstance(x, str)])
    problems += [f"missing file {name}" for name in FILES if not (folder / name).is_file()]
    return problems


def _widget_block(widget: object) -> list[str]:
    if not isinstance(widget, dict):
        return ["widget: required object"]
    problems = [
        f"widget.{key}: required {kind.__name__}"
        for key, kind in WIDGET_KEYS.items()
        if not isinstance(widget.get(key), kind) or (kind is int and isinstance(widget.get(key), bool))
    ]
    if isinstance(widget.get("version"), str) and not re.fullmatch(r"\d+\.\d+\.\d+", widget["version"]):
        problems.append("widget.version: must look like 1.0.0")
    for locale in widget.get("locale") or []:
        if locale not in LOCALES:
            problems.append(f"widget.locale: unknown locale {locale!r}")
    support = widget.get("support")
    reachable = isinstance(support, dict) and (support.get("link") or support.get("email"))
    if support is not None and not reachable:
        problems.append("widget.support: needs a link or an email")
    return problems


def _locations(locations: object) -> list[str]:
    if not isinstance(locations, list) or not locations:
        return ["locations: required non-empty list"]
    problems = []
    for item in locations:
        area, _, flag = str(item).partition("-")
        if area not in AREAS:
            problems.append(f"locations: unknown area {item!r}")
        elif flag and (area in NO_SUFFIX or flag not in ("0", "1")):
            problems.append(f"locations: {item!r} takes no suffix or only -0 / -1")
    return problems


def _settings(settings: object) -> list[str]:
    if not isinstance(settings, dict):
        return ["settings: must be an object"]
    problems = []
    for key, field in settings.items():
        if not isinstance(field, dict):
            problems.append(f"settings.{key}: must be an object")
            continue
        if field.get("type") not in FIELD_TYPES:
            problems.append(f"settings.{key}.type: {field.get('type')!r} is not one of {sorted(FIELD_TYPES)}")
        if not isinstance(field.get("name"), str):
            problems.append(f"settings.{key}.name: required i18n key")
        if not isinstance(field.get("required"), bool):
            problems.append(f"settings.{key}.required: required true/false")
    return problems


def _i18n(folder: Path, manifest: dict[str, object], locales: list[str]) -> list[str]:
    keys = _i18n_keys(manifest)
    problems = []
    for locale in locales:
        path = folder / "i18n" / f"{locale}.json"
        try:
            texts = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"i18n/{locale}.json: {exc}")
            continue
        for key in keys:
            if not isinstance(_lookup(texts, key), str):
                problems.append(f"i18n/{locale}.json: no text for {key}")
    return problems


def _i18n_keys(manifest: dict[str, object]) -> list[str]:
    widget = manifest.get("widget") if isinstance(manifest.get("widget"), dict) else {}
    keys = [widget.get(k) for k in ("name", "description", "short_description")]  # type: ignore[union-attr]
    settings = manifest.get("settings") if isinstance(manifest.get("settings"), dict) else {}
    keys += [f.get("name") for f in settings.values() if isinstance(f, dict)]  # type: ignore[union-attr]
    return [k for k in keys if isinstance(k, str)]


def _lookup(texts: object, dotted: str) -> object:
    for part in dotted.split("."):
        if not isinstance(texts, dict):
            return None
        texts = texts.get(part)
    return texts


# -- logos --------------------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    """The panel's logo at this size: a handset-blue field with a white ring (drawn, not shipped)."""
    cx, cy, outer = width / 2, height / 2, min(width, height) * 0.34
    inner = outer * 0.62
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            d2 = (x + 0.5 - cx) ** 2 + (y + 0.5 - cy) ** 2
            ring = inner * inner <= d2 <= outer * outer
            row += bytes((255, 255, 255) if ring else (31, 58, 90))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def build(folder: Path, dist: Path) -> Path:
    """Check, then write dist/amocrm-widget-<version>.zip with manifest.json at its root."""
    problems = check_manifest(folder)
    if problems:
        raise SystemExit("amocrm-widget: the manifest breaks amoCRM's schema:\n  " + "\n  ".join(problems))
    version = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["widget"]["version"]
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"amocrm-widget-{version}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in FILES:
            archive.write(folder / name, name)
        for path in sorted((folder / "i18n").glob("*.json")):
            archive.write(path, f"i18n/{path.name}")
        for name, (width, height) in LOGOS.items():
            image = png(width, height)
            assert len(image) <= MAX_IMAGE
            archive.writestr(f"images/{name}", image)
    return target


def main(argv: list[str] | None = None) -> int:
    """`python amocrm-widget/build.py [--dist DIR]`: print the archive's path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=HERE.parent / "dist")
    args = parser.parse_args(argv)
    print(build(HERE, args.dist))
    return 0


if __name__ == "__main__":
    sys.exit(main())
