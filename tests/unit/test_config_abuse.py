"""Configurations an operator (or an attacker with write access to one value) gets wrong: each is
refused by `crm-connector check-config` with exit 2, the key and the line, never a traceback."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

MINIMAL = "ami:\n  username: crm\n  secret: s3cret\n"


def check(tmp_path: Path, text: str | bytes) -> subprocess.CompletedProcess[str]:
    file = tmp_path / "connector.yaml"
    if isinstance(text, bytes):
        file.write_bytes(text)
    else:
        file.write_text(text, encoding="utf-8")

    def limit_memory() -> None:  # an alias bomb must fail fast, not after eating the machine
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run(
        [sys.executable, "-m", "connector.cli", "check-config", "-q", "-c", str(file)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=limit_memory,
        check=False,
    )


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (MINIMAL + "http:\n  port: 0\n", "http.port", 5),
        ("ami:\n  username: crm\n  secret: ''\n", "ami.secret", 3),
        (MINIMAL + "call_control:\n  number_patterns: 5\n", "call_control.number_patterns", 5),
        (MINIMAL + "  ping_interval: 1\n  ping_timeout: 500\n", "ami.ping_timeout", 5),
        (MINIMAL + "storage:\n  dir: var/lib/crm\n", "storage.dir", 5),
        (MINIMAL + "storage:\n  recordings_dir: ./monitor\n", "storage.recordings_dir", 5),
    ],
    ids=[
        "http-port-0",
        "empty-ami-secret",
        "patterns-scalar",
        "ping-timeout",
        "relative-dir",
        "relative-rec",
    ],
)
def test_a_wrong_value_exits_2_naming_key_and_line(tmp_path: Path, text: str, key: str, line: int) -> None:
    result = check(tmp_path, text)
    assert result.returncode == 2, result.stderr
    assert f"connector.yaml:{line}: {key}:" in result.stderr
    assert "Traceback" not in result.stderr


def test_non_utf8_bytes_exit_2_with_the_line(tmp_path: Path) -> None:
    result = check(
        tmp_path, MINIMAL.encode() + b"numbering:\n  lines:\n    - {number: '1', name: \xcf\xf0\xe8}\n"
    )
    assert result.returncode == 2, result.stderr
    assert "connector.yaml:6: is not UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_yaml_alias_bomb_exits_2_without_expanding(tmp_path: Path) -> None:
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    bomb += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)]
    text = MINIMAL + "adapters:\n  builtin:\n    enabled: true\n" + "\n".join(bomb) + "\n"
    result = check(tmp_path, text)
    assert result.returncode == 2, result.stderr
    assert "expands to more than" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_recursive_alias_exits_2(tmp_path: Path) -> None:
    result = check(tmp_path, MINIMAL + "numbering: &n\n  lines: [*n]\n")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr


def test_a_huge_file_exits_2(tmp_path: Path) -> None:
    result = check(tmp_path, MINIMAL + "#" * (2 << 20) + "\n")
    assert (result.returncode, "larger than" in result.stderr) == (2, True)
