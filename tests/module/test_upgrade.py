"""An upgrade done the way MikoPBX does it keeps the settings, the YAML, the outbox and the CRM.

MikoPBX (Core: ModuleInstallationBase::startModuleInstallation, PbxExtensionSetupBase::
unInstallFiles / installFiles) upgrades a module by disabling it, copying its db/ folder to
custom_modules/Backup/<id>/db, deleting the module folder, unzipping the new one and copying the
backup's db/* back before install and enable. The module keeps everything of its own in db/.
"""

from __future__ import annotations

import asyncio
import shutil
import urllib.request
from pathlib import Path

from adapters.builtin.store import Store

from . import support

KNOWN = "+79161112233"


def healthz(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return str(reply.read().decode())
    except urllib.error.HTTPError as exc:  # 503 while AMI is down: the daemon answers all the same
        return str(exc.read().decode())
    except OSError:
        return ""


async def wait_serving(port: int, seconds: float = 40.0) -> str:
    for _ in range(int(seconds / 0.3)):
        body = await asyncio.to_thread(healthz, port)
        if '"stage": "running"' in body:
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"the daemon never served /healthz on {port}")


def mikopbx_upgrade(modules: Path, module_zip: Path) -> None:
    """What MikoPBX runs between disable and enable, keepSettings=true."""
    module = modules / "ModuleCrmConnector"
    backup = modules / "Backup" / "ModuleCrmConnector"
    shutil.rmtree(backup, ignore_errors=True)  # rm -rf $backupPath
    backup.mkdir(parents=True)
    shutil.copytree(module / "db", backup / "db")  # cp -r $moduleDir/db $backupPath/
    shutil.rmtree(module)  # rm -rf $moduleDir
    support.extract(module_zip, modules)  # the new zip, entry by entry
    for item in (backup / "db").iterdir():  # cp -r $backupPath/db/* $moduleDir/db/ (no dotfiles)
        if item.name.startswith("."):
            continue
        if item.is_dir():
            shutil.copytree(item, module / "db" / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, module / "db" / item.name)


async def test_upgrade_keeps_settings_outbox_and_the_builtin_crm(module_zip: Path, tmp_path: Path) -> None:
    modules = support.extract(module_zip, tmp_path / "custom_modules")
    ports = {"http_port": str(support.free_port()), "agi_port": str(support.free_port())}
    port = int(ports["http_port"])
    first = support.run_hooks(modules, actions=["install", "set", "enable"], changes=ports)
    data = modules / "ModuleCrmConnector" / "db" / "data"
    try:
        await wait_serving(port)
        store = await Store.open(data / "builtin.db")
        try:
            await store.clients.create("Клиент до обновления", [KNOWN])
        finally:
            await store.close()
    finally:
        support.run_hooks(modules, row=first["row"], actions=["disable"])
    config = Path(first["config_file"])
    yaml_before = await asyncio.to_thread(config.read_text, encoding="utf-8")

    await asyncio.to_thread(mikopbx_upgrade, modules, module_zip)
    # module.db came back with db/: the row the page saved is the row install finds.
    second = support.run_hooks(modules, row=first["row"], actions=["install", "enable"])
    try:
        await wait_serving(port)
    finally:
        support.run_hooks(modules, row=second["row"], actions=["disable"])
    store = await Store.open(data / "builtin.db")
    try:
        client = await store.clients.by_phone(KNOWN)
    finally:
        await store.close()
    yaml_after = await asyncio.to_thread(Path(second["config_file"]).read_text, encoding="utf-8")
    outbox_kept = await asyncio.to_thread((data / "outbox.db").exists)
    secrets = ("ami_secret", "link_secret", "api_token")
    assert (
        {k: second["row"][k] for k in secrets},
        yaml_after == yaml_before,
        outbox_kept,
        client is not None and client["name"],
    ) == ({k: first["row"][k] for k in secrets}, True, True, "Клиент до обновления")
