"""Lay out and zip the MikoPBX module: dist/ModuleCrmConnector-<version>.zip.

The zip's root is the module's folder as MikoPBX unpacks it into custom_modules/ModuleCrmConnector:
module.json at the top (MikoPBX reads it from the archive before installing), then Setup/, Models/,
Messages/, Lib/, App/, public/, bin/ (the control script and the frozen daemon), agi-bin/, db/ and
asterisk/crm-interception.conf (the same snippet plain-Asterisk installs include). Paths are
relative and never contain "..": MikoPBX refuses such entries.

Usage: python mikopbx-module/packaging/package.py --frozen DIR [--out dist]   (prints the zip's path)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import stat
import sys
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODULE = HERE.parent
REPO = MODULE.parent
MODULE_ID = "ModuleCrmConnector"
# What the module folder is made of (build/ and the frozen bundle's source are not shipped).
PARTS = ("App", "Lib", "Messages", "Models", "Setup", "public", "agi-bin", "db")
EXECUTABLE = ("bin/crm-connector-ctl", "bin/crm-connector/crm-connector")


def version() -> str:
    """The daemon's version from pyproject.toml: the module ships that daemon."""
    data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def stage(dest: Path, frozen: Path | None, module_version: str) -> Path:
    """Copy the module's files into dest (made fresh); frozen: the PyInstaller one-folder bundle."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for part in PARTS:
        shutil.copytree(MODULE / part, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
    (dest / "bin").mkdir()
    shutil.copy2(MODULE / "bin" / "crm-connector-ctl", dest / "bin" / "crm-connector-ctl")
    (dest / "asterisk").mkdir()
    shutil.copy2(REPO / "config" / "asterisk" / "crm-interception.conf", dest / "asterisk")
    manifest = json.loads((MODULE / "module.json").read_text(encoding="utf-8"))
    manifest["version"] = module_version
    (dest / "module.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    if frozen is not None:
        shutil.copytree(frozen, dest / "bin" / "crm-connector", symlinks=True)
    return dest


def write_zip(staged: Path, target: Path) -> Path:
    """Zip the staged folder with relative paths, keeping the executable bits of bin/."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(staged.rglob("*")):
            name = path.relative_to(staged).as_posix()
            if path.is_symlink():
                # A symlink would escape MikoPBX's path checks: store what it points to.
                archive.write(path.resolve(), name)
            elif path.is_dir():
                archive.writestr(zipfile.ZipInfo(name + "/"), "")
            else:
                info = zipfile.ZipInfo.from_file(path, name)
                executable = name in EXECUTABLE or path.stat().st_mode & stat.S_IXUSR
                mode = 0o755 if executable else 0o644
                info.external_attr = (stat.S_IFREG | mode) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with path.open("rb") as source, archive.open(info, "w") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
    tmp.replace(target)
    return target


def build(frozen: Path | None, out: Path, work: Path) -> Path:
    """Stage and zip; returns dist/ModuleCrmConnector-<version>.zip."""
    module_version = version()
    if not re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", module_version):
        raise SystemExit(f"package: odd version {module_version!r}")
    staged = stage(work / MODULE_ID, frozen, module_version)
    return write_zip(staged, out / f"{MODULE_ID}-{module_version}.zip")


def main(argv: list[str] | None = None) -> int:
    """`package.py --frozen DIR --out DIR`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frozen", type=Path, required=True, help="the PyInstaller bundle (freeze.sh)")
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "module")
    args = parser.parse_args(argv)
    if not (args.frozen / "crm-connector").is_file():
        print(f"package: {args.frozen} holds no crm-connector bundle", file=sys.stderr)
        return 2
    print(build(args.frozen, args.out, args.work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
