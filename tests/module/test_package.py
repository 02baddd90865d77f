"""The zip `make module` builds, and the frozen daemon it ships."""

from __future__ import annotations

import contextlib
import io
import json
import stat
import subprocess
import zipfile
from pathlib import Path

from connector import __version__, cli

from . import support

REQUIRED = (
    "module.json",
    "Setup/PbxExtensionSetup.php",
    "Models/ModuleCrmConnector.php",
    "Messages/ru.php",
    "Messages/en.php",
    "Lib/CrmConnectorConf.php",
    "Lib/ConnectorConfig.php",
    "App/Module.php",
    "App/Controllers/ModuleCrmConnectorController.php",
    "App/Forms/ModuleCrmConnectorForm.php",
    "App/Views/ModuleCrmConnector/index.volt",
    "public/assets/js/module-crm-connector-index.js",
    "public/assets/img/logo.svg",
    "bin/crm-connector-ctl",
    "bin/crm-connector/crm-connector",
    "asterisk/crm-interception.conf",
    "db/",
    "agi-bin/",
)
# bookworm's glibc: MikoPBX's Debian-based images have it or newer.
MAX_GLIBC = (2, 36)


def test_zip_is_named_for_the_module_and_its_version(module_zip: Path) -> None:
    assert module_zip.name == f"ModuleCrmConnector-{__version__}.zip"


def test_module_json_carries_what_mikopbx_reads(module_zip: Path) -> None:
    with zipfile.ZipFile(module_zip) as archive:
        manifest = json.loads(archive.read("module.json"))
    assert {k: manifest.get(k) for k in ("moduleUniqueID", "version")} == {
        "moduleUniqueID": "ModuleCrmConnector",
        "version": __version__,
    }
    assert all(manifest.get(k) for k in ("developer", "support_email", "min_pbx_version"))


def test_zip_holds_every_required_part(module_zip: Path) -> None:
    with zipfile.ZipFile(module_zip) as archive:
        names = set(archive.namelist())
    assert [part for part in REQUIRED if part not in names] == []


def test_zip_paths_are_relative_and_never_climb(module_zip: Path) -> None:
    """MikoPBX's installer refuses entries containing '..' and extracts into the module folder."""
    with zipfile.ZipFile(module_zip) as archive:
        bad = [n for n in archive.namelist() if n.startswith("/") or ".." in n or "\\" in n or ":" in n]
    assert bad == []


def test_executables_keep_their_mode(module_zip: Path) -> None:
    with zipfile.ZipFile(module_zip) as archive:
        modes = {name: (archive.getinfo(name).external_attr >> 16) & 0o777 for name in REQUIRED[13:15]}
    assert all(mode & stat.S_IXUSR for mode in modes.values()), modes


def test_frozen_daemon_answers_version(unzipped: Path) -> None:
    binary = unzipped / "ModuleCrmConnector" / "bin" / "crm-connector" / "crm-connector"
    result = subprocess.run(
        [str(binary), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout.strip()) == (0, f"crm-connector {__version__}")


def test_frozen_daemon_accepts_the_config_the_settings_page_writes(unzipped: Path) -> None:
    # A save starts the daemon, as on the PBX; disable stops it again.
    out = support.run_hooks(
        unzipped,
        actions=["install", "save", "disable"],
        changes={
            "http_port": str(support.free_port()),
            "agi_port": str(support.free_port()),
            "crm": "bitrix24",
            "b24_portal": "https://example.bitrix24.ru",
            "b24_client_id": "local.65f0c1d2e3a4b5.12345678",
            "b24_client_secret": "Qw3rTy7uIoP1aSdFgHjKlZxCvBnM",
            "public_url": "https://pbx.example.ru:18090",
            "interception_mode": "parallel",
            "working_hours": "mon-fri 09:00-18:00",
        },
    )
    binary = unzipped / "ModuleCrmConnector" / "bin" / "crm-connector" / "crm-connector"
    result = subprocess.run(
        [str(binary), "check-config", "-c", out["config_file"]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, "bitrix24:" in result.stdout, out["row"]["ami_secret"] in result.stdout) == (
        0,
        True,
        False,
    ), result.stdout + result.stderr


def test_frozen_daemon_refuses_a_bad_config_with_the_key(unzipped: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text('ami:\n  username: "x"\n  secret: "y"\n  port: 70000\n', encoding="utf-8")
    binary = unzipped / "ModuleCrmConnector" / "bin" / "crm-connector" / "crm-connector"
    result = subprocess.run(
        [str(binary), "check-config", "-c", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, "ami" in result.stderr + result.stdout) == (2, True)


def test_frozen_bundle_needs_no_glibc_newer_than_bookworms(frozen: Path) -> None:
    elves = [p for p in frozen.rglob("*") if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"]
    needs = support.glibc_needs(elves)
    highest = max(needs.values())
    print(f"\nfrozen bundle: {len(elves)} ELF files, highest GLIBC_ needed: {'.'.join(map(str, highest))}")
    assert (len(needs) > 10, highest <= MAX_GLIBC) == (True, True), needs


def test_control_script_refuses_to_start_on_a_bad_config(unzipped: Path, tmp_path: Path) -> None:
    config = tmp_path / "connector.yaml"
    config.write_text('ami:\n  username: "x"\n', encoding="utf-8")
    ctl = unzipped / "ModuleCrmConnector" / "bin" / "crm-connector-ctl"
    result = subprocess.run(
        ["/bin/sh", str(ctl), "start", str(config), str(tmp_path / "log")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    log = (tmp_path / "log" / "daemon.log").read_text(encoding="utf-8")
    pid_file = tmp_path / "crm-connector.pid"
    assert (result.returncode, pid_file.exists(), "ami.secret" in log) == (2, False, True)


def ctl(modules: Path, action: str, config: str) -> int:
    script = modules / "ModuleCrmConnector" / "bin" / "crm-connector-ctl"
    log_dir = modules.parent / "log" / "ModuleCrmConnector"
    result = subprocess.run(
        ["/bin/sh", str(script), action, config, str(log_dir)], capture_output=True, timeout=60, check=False
    )
    return result.returncode


def test_a_daemon_stopped_by_disable_is_not_restarted_by_cron_until_enabled(
    module_zip: Path, tmp_path: Path
) -> None:
    modules = support.extract(module_zip, tmp_path / "custom_modules")
    ports = {"http_port": str(support.free_port()), "agi_port": str(support.free_port())}
    out = support.run_hooks(modules, actions=["install", "set", "enable"], changes=ports)
    config = out["config_file"]
    try:
        states = [ctl(modules, "status", config)]
        for action in ("stop", "ensure", "start"):
            ctl(modules, action, config)
            states.append(ctl(modules, "status", config))
    finally:
        ctl(modules, "stop", config)
    # 0: running. enable started it, stop stopped it, cron's ensure left it stopped, start brought it back.
    assert states == [0, 1, 1, 0]


def records_of(output: str) -> list[object]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_frozen_daemon_replays_captures_exactly_as_the_package_does(unzipped: Path) -> None:
    """Modules imported by name at run time (commands, adapters, phonenumbers' region data) are in
    the bundle: its call records from recorded captures equal the package's."""
    binary = unzipped / "ModuleCrmConnector" / "bin" / "crm-connector" / "crm-connector"
    # Every fourth capture (the frozen binary takes ~0.7 s to start), each read as Russian and as
    # Belarusian numbers so two regions' data are used.
    captures = sorted((support.REPO / "tests" / "fixtures" / "ami").glob("*.json"))[::4]
    differ = []
    for capture in captures:
        for country in ("7", "375"):
            args = ["replay", "--country", country, str(capture)]
            frozen = subprocess.run(
                [str(binary), *args], capture_output=True, text=True, timeout=120, check=False
            )
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli.main(args)
            # Records only: warnings printed beside them carry their own clock time.
            records = [records_of(frozen.stdout), records_of(out.getvalue())]
            if (frozen.returncode, records[0]) != (code, records[1]) or not records[0]:
                differ.append(
                    f"{capture.name} --country {country}: {frozen.returncode}/{code} {frozen.stderr[-300:]}"
                )
    assert (len(captures) >= 5, differ) == (True, [])
