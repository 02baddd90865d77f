"""`crm-connector users`: the first admin from the command line, then resets and switching off."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from adapters.builtin.adapter import BuiltinAdapter
from adapters.builtin.passwords import verify_password
from adapters.builtin.store import Store
from connector.cli import main
from connector.crm import AdapterContext, MemoryState


@pytest.fixture
def config(tmp_path: Path) -> str:
    path = tmp_path / "connector.yaml"
    path.write_text(
        "ami: {username: crm, secret: long-enough-secret}\n"
        f"storage: {{dir: {tmp_path / 'state'}}}\n"
        "adapters: {builtin: {enabled: true}}\n",
        encoding="utf-8",
    )
    return str(path)


def _account(tmp_path: Path, login: str) -> dict[str, object] | None:
    """The account as stored (read in its own loop: the command under test runs its own too)."""

    async def read() -> dict[str, object] | None:
        store = await Store.open(tmp_path / "state" / "builtin.db")
        try:
            return await store.accounts.by_login(login)
        finally:
            await store.close()

    return asyncio.run(read())


def _verified(stored: object, password: str) -> bool:
    return asyncio.run(verify_password(str(stored), password))


def test_the_first_admin_is_added_with_a_password_printed_once(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["users", "-c", config, "add", "--login", "anna", "--name", "Анна Иванова", "--extension", "201"]
    assert main([*args, "--role", "admin"]) == 0
    out = capsys.readouterr().out
    password = out.split("password  ")[1].split()[0]
    account = _account(tmp_path, "anna")
    assert account is not None and account["role"] == "admin"
    assert _verified(account["password_hash"], password)
    assert str(account["password_hash"]) not in out


def test_a_password_from_stdin_must_meet_the_rules(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "users",
        "-c",
        config,
        "add",
        "--login",
        "anna",
        "--name",
        "Анна",
        "--extension",
        "201",
        "--password-stdin",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("qwerty123\n"))
    assert main(args) == 1
    assert "refused" in capsys.readouterr().err and _account(tmp_path, "anna") is None
    monkeypatch.setattr("sys.stdin", io.StringIO("три слова и ещё два\n"))
    assert main(args) == 0
    assert "password  " not in capsys.readouterr().out  # typed by the admin: not echoed


def test_passwd_and_deactivate_by_login(
    config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["users", "-c", config, "add", "--login", "egor", "--name", "Егор", "--extension", "202"])
    capsys.readouterr()
    assert main(["users", "-c", config, "passwd", "egor"]) == 0
    password = capsys.readouterr().out.split("password  ")[1].split()[0]
    account = _account(tmp_path, "egor")
    assert account is not None and _verified(account["password_hash"], password)
    assert main(["users", "-c", config, "deactivate", "egor"]) == 0
    assert (_account(tmp_path, "egor") or {}).get("active") == 0
    assert main(["users", "-c", config, "passwd", "nobody"]) == 1


async def test_the_daemon_says_how_to_add_the_first_admin(tmp_path: Path) -> None:
    adapter = BuiltinAdapter(AdapterContext("builtin", None, MemoryState()), Store(tmp_path / "crm.db"))  # type: ignore[arg-type]
    with capture_logs() as logs:
        await adapter.start()
    await adapter.aclose()
    assert [e for e in logs if e["event"] == "builtin.no_admin" and "users add" in e["hint"]]
