"""Loading the YAML configuration: the example loads, every kind of mistake is named precisely."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from connector import config
from connector.errors import ConfigError
from connector.settings_schema import Secret

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "connector.example.yaml"
MINIMAL = "ami:\n  username: crm\n  secret: s3cret\n"


def test_example_config_loads_with_documented_defaults() -> None:
    settings = config.load(EXAMPLE, environ={"AMI_SECRET": "from-env"})
    assert settings.ami.username == "crm-connector"
    assert settings.ami.secret.get() == "from-env"
    assert settings.numbering.country_code == "7"
    assert [line.name for line in settings.numbering.lines] == ["Сайт", "Яндекс.Директ"]
    assert "builtin" in settings.adapters


def test_default_used_when_environment_variable_missing() -> None:
    settings = config.load(EXAMPLE, environ={})
    assert settings.ami.secret.get() == "change-me"


def test_minimal_config_fills_defaults() -> None:
    settings = config.loads(MINIMAL)
    assert settings.ami.port == 5038
    assert settings.outbox.max_attempts == 12
    assert settings.adapters == {}


def test_unknown_key_names_path_line_and_suggestion() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(MINIMAL + "  pord: 5038\n", "conn.yaml")
    message = str(caught.value)
    assert message.startswith("conn.yaml:4: ami.pord: unknown key")
    assert "did you mean 'port'?" in message


def test_unknown_section_suggests_known_one() -> None:
    with pytest.raises(ConfigError, match=r"numbring: unknown key \(did you mean 'numbering'\?\)"):
        config.loads(MINIMAL + "numbring:\n  country_code: '7'\n")


def test_wrong_type_names_key_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads(MINIMAL + "  port: five\n", "c.yaml")
    assert caught.value.key == "ami.port"
    assert caught.value.line == 4
    assert "must be a whole number" in str(caught.value)


def test_missing_required_value_is_named() -> None:
    with pytest.raises(ConfigError, match=r"ami.secret: is required"):
        config.loads("ami:\n  username: crm\n")


def test_invalid_value_checked_by_section() -> None:
    with pytest.raises(ConfigError, match=r"ami.port: port 70000 is not a TCP port"):
        config.loads(MINIMAL + "  port: 70000\n")


def test_bad_regular_expression_is_reported() -> None:
    with pytest.raises(ConfigError, match="internal_pattern is not a valid regular expression"):
        config.loads(MINIMAL + "numbering:\n  internal_pattern: '[0-9'\n")


def test_unknown_adapter_suggests_known_one() -> None:
    with pytest.raises(ConfigError, match=r"adapters.amocmr: unknown adapter \(did you mean 'amocrm'\?\)"):
        config.loads(MINIMAL + "adapters:\n  amocmr: {}\n")


def test_list_item_error_points_at_item() -> None:
    text = MINIMAL + "numbering:\n  lines:\n    - number: '74951110001'\n    - nmber: '1'\n"
    with pytest.raises(ConfigError) as caught:
        config.loads(text)
    assert caught.value.key == "numbering.lines[1].nmber"
    assert caught.value.line == 7


def test_duplicate_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"ami.username: is given twice"):
        config.loads(MINIMAL + "  username: other\n")


def test_invalid_yaml_reports_line() -> None:
    with pytest.raises(ConfigError) as caught:
        config.loads("ami:\n  username: [unclosed\n  secret: x\n", "x.yaml")
    assert "not valid YAML" in str(caught.value)
    assert caught.value.line is not None


def test_secret_read_from_environment_reference() -> None:
    text = "ami:\n  username: crm\n  secret: ${AMI_SECRET}\n"
    settings = config.loads(text, environ={"AMI_SECRET": "pa55"})
    assert settings.ami.secret == Secret("pa55")


def test_missing_environment_variable_is_named() -> None:
    text = "ami:\n  username: crm\n  secret: ${AMI_SECRET}\n"
    with pytest.raises(ConfigError, match=r":3: ami.secret: environment variable AMI_SECRET is not set"):
        config.loads(text, "c.yaml", environ={})


def test_secret_read_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text("from-file\n")
    settings = config.loads(f"ami:\n  username: crm\n  secret: ${{file:{secret_file}}}\n")
    assert settings.ami.secret.get() == "from-file"


def test_missing_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read secret file"):
        config.loads(f"ami:\n  username: crm\n  secret: ${{file:{tmp_path}/nope}}\n")


def test_settings_are_frozen() -> None:
    settings = config.loads(MINIMAL)
    with pytest.raises(AttributeError):
        settings.ami.port = 1  # type: ignore[misc]


def test_secrets_are_listed_for_log_scrubbing() -> None:
    settings = config.loads(MINIMAL)
    assert "s3cret" in settings.secrets()
    assert "s3cret" not in repr(settings)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "connector.cli", *args], capture_output=True, text=True, cwd=ROOT, check=False
    )


def test_check_config_prints_settings_with_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL)
    result = _cli("check-config", "-c", str(path))
    assert result.returncode == 0, result.stderr
    assert "secret: '***'" in result.stdout
    assert "s3cret" not in result.stdout


def test_check_config_exits_2_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(MINIMAL + "  pord: 1\n")
    result = _cli("check-config", "-c", str(path))
    assert result.returncode == 2
    assert f"{path}:4: ami.pord: unknown key (did you mean 'port'?)" in result.stderr


def test_check_config_on_missing_file_exits_2(tmp_path: Path) -> None:
    result = _cli("check-config", "-c", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "cannot read the file" in result.stderr


def test_version_is_printed() -> None:
    result = _cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("crm-connector ")


def test_amocrm_needs_a_public_url_for_its_recording_links() -> None:
    text = MINIMAL + (
        "adapters:\n  amocrm:\n    enabled: true\n    domain: shop.amocrm.ru\n"
        "    auth: {mode: long_lived, long_lived_token: t0ken}\n"
    )
    with pytest.raises(ConfigError, match=r"http.public_url: is required by amocrm"):
        config.loads(text)
