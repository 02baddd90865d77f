"""The module's PHP: syntax, and the hooks run against stand-ins of MikoPBX's base classes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from connector.config import loads
from connector.errors import ConfigError

from . import support

PHP_FILES = sorted(support.MODULE.rglob("*.php")) + sorted(support.PHP_DIR.glob("*.php"))
SNIPPET = support.REPO / "config" / "asterisk" / "crm-interception.conf"


@pytest.mark.parametrize("path", PHP_FILES, ids=lambda p: str(p.relative_to(support.REPO)))
def test_every_php_file_passes_php_lint(path: Path) -> None:
    result = subprocess.run([support.php(), "-l", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def installed(modules_dir: Path, **options: Any) -> dict[str, Any]:
    """Install (secrets generated), then whatever else `options` asks."""
    actions = ["install", *options.pop("actions", [])]
    return support.run_hooks(modules_dir, actions=actions, **options)


def test_install_generates_the_secrets_once(modules_dir: Path) -> None:
    first = installed(modules_dir)["row"]
    again = installed(modules_dir, row=first)["row"]
    secrets = {key: first[key] for key in ("ami_secret", "link_secret", "api_token")}
    assert all(len(value) >= 32 for value in secrets.values())
    assert {key: again[key] for key in secrets} == secrets


def test_manager_conf_section_is_the_daemons_ami_user_on_loopback_with_only_its_classes(
    modules_dir: Path,
) -> None:
    out = installed(modules_dir)
    assert out["manager"] == (
        "[crm-connector-module]\n"
        f"secret={out['row']['ami_secret']}\n"
        "deny=0.0.0.0/0.0.0.0\n"
        "permit=127.0.0.1/255.255.255.255\n"
        "read=call,agent,user,dialplan\n"
        "write=originate,call,system,user\n"
        "writetimeout=2000\n"
    )


def test_predial_mode_adds_the_gosub_to_every_incoming_route(modules_dir: Path) -> None:
    out = installed(modules_dir, actions=["save"], changes={"interception_mode": "predial"})
    assert out["before_dial"] == "\tsame => n,Gosub(crm-interception,s,1(${FROM_DID}))\n"


@pytest.mark.parametrize("mode", ["off", "parallel"])
def test_other_modes_leave_the_incoming_routes_alone(modules_dir: Path, mode: str) -> None:
    out = installed(modules_dir, actions=["save"], changes={"interception_mode": mode})
    assert out["before_dial"] == ""


def test_contexts_are_the_shipped_snippet_without_comments(modules_dir: Path) -> None:
    out = installed(modules_dir)
    snippet = [
        line
        for line in SNIPPET.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith(";")
    ]
    assert [line for line in out["contexts"].splitlines() if line.strip()] == snippet


def test_globals_point_the_interception_at_the_daemons_agi_port(modules_dir: Path) -> None:
    out = installed(modules_dir, actions=["save"], changes={"agi_port": "4600"})
    assert out["globals"] == "CRM_AGI=127.0.0.1:4600\n"


def test_a_save_rewrites_the_yaml_and_regenerates_manager_and_dialplan(modules_dir: Path) -> None:
    out = installed(
        modules_dir, actions=["save"], changes={"crm": "builtin", "number_region": "", "country_code": "375"}
    )
    written = Path(out["config_file"])
    text = written.read_text(encoding="utf-8")
    body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
    assert (
        out["actions"][-1],
        text.startswith("# Written by"),
        body,
        oct(written.stat().st_mode & 0o777),
    ) == (
        ["save", ["manager", "extensions"]],
        True,
        out["yaml"],
        "0o600",
    )
    assert loads(out["yaml"]).numbering.country_code == "375"


def test_state_and_logs_live_under_the_storage_disk(modules_dir: Path) -> None:
    out = installed(modules_dir)
    settings = loads(out["yaml"])
    module_dir = modules_dir / "ModuleCrmConnector"
    assert (settings.storage.dir, out["cron"]) == (
        module_dir / "db" / "data",
        [
            f"*/1 * * * * /bin/sh '{module_dir}/bin/crm-connector-ctl' 'ensure' "
            f"'{module_dir}/db/connector.yaml' '{modules_dir.parent}/log/ModuleCrmConnector'"
            " > /dev/null 2>&1\n"
        ],
    )


CRM_FIELDS: dict[str, dict[str, str]] = {
    "builtin": {"crm": "builtin"},
    "amocrm": {
        "crm": "amocrm",
        "amo_domain": "example.amocrm.ru",
        "amo_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.token",
        "public_url": "https://pbx.example.ru:18090",
    },
    "amocrm-oauth": {
        "crm": "amocrm",
        "amo_domain": "example.amocrm.ru",
        "amo_auth_mode": "oauth",
        "amo_client_id": "0b3b7d8e-1111-2222-3333-444455556666",
        "amo_client_secret": "Zx9sUeRtYp8uIoPaSdFgHjKl",
        "amo_redirect_uri": "https://pbx.example.ru/amocrm/oauth",
        "public_url": "https://pbx.example.ru:18090",
    },
    "bitrix24": {
        "crm": "bitrix24",
        "b24_portal": "https://example.bitrix24.ru",
        "b24_client_id": "local.65f0c1d2e3a4b5.12345678",
        "b24_client_secret": "Qw3rTy7uIoP1aSdFgHjKlZxCvBnM",
        "public_url": "https://pbx.example.ru:18090",
    },
    "bitrix24-webhook": {
        "crm": "bitrix24",
        "b24_auth_mode": "webhook",
        "b24_webhook_url": "https://example.bitrix24.ru/rest/1/abcdef123456/",
    },
    "webhook": {
        "crm": "webhook",
        "webhook_url": "https://hooks.example.ru/pbx-calls",
        "webhook_secret": "s3cr3t-s3cr3t-s3cr3t",
    },
}


@pytest.mark.parametrize("name", list(CRM_FIELDS))
def test_each_crm_choice_makes_a_yaml_the_daemon_accepts(modules_dir: Path, name: str) -> None:
    changes = dict(CRM_FIELDS[name], interception_mode="predial", working_hours="mon-fri 09:00-18:00")
    out = installed(modules_dir, actions=["save"], changes=changes)
    settings = loads(out["yaml"])
    crm = name.split("-", maxsplit=1)[0]
    assert (out["validate"], sorted(settings.adapters), settings.interception.working_hours) == (
        [],
        sorted({crm, "builtin"}),
        ("mon-fri 09:00-18:00",),
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"crm": "amocrm", "amo_domain": "example.amocrm.ru", "amo_token": "t"}, "public_url"),
        (
            {"crm": "bitrix24", "b24_auth_mode": "webhook", "b24_webhook_url": "http://example.bitrix24.ru/"},
            "b24_webhook_url",
        ),
        (
            {"crm": "bitrix24", "b24_portal": "https://example.bitrix24.ru", "b24_client_id": "local.1"},
            "b24_client_secret",
        ),
        (
            {
                "crm": "bitrix24",
                "b24_portal": "https://x.bitrix24.ru",
                "b24_client_id": "a",
                "b24_client_secret": "b",
            },
            "public_url",
        ),
        (
            {"crm": "webhook", "webhook_url": "https://h.example.ru", "webhook_secret": "short"},
            "webhook_secret",
        ),
        ({"http_port": "4573", "agi_port": "4573"}, "agi_port"),
        ({"working_hours": "weekdays 9-18"}, "working_hours"),
        (
            {"crm": "webhook", "webhook_url": "https://h.example.ru", "webhook_secret": "${HOME}-1234567890"},
            "webhook_secret",
        ),
    ],
)
def test_the_page_refuses_settings_the_daemon_would_refuse(
    modules_dir: Path, changes: dict[str, str], field: str
) -> None:
    out = installed(modules_dir, actions=["save"], changes=changes)
    assert field in out["validate"]


def test_the_daemon_itself_refuses_what_the_page_misses(modules_dir: Path) -> None:
    """check-config stays the last word: the page's own checks are not the only guard."""
    out = installed(modules_dir, actions=["save"], changes={"timezone": "Mars/Olympus"})
    with pytest.raises(ConfigError, match="timezone"):
        loads(out["yaml"])


def test_ru_and_en_messages_have_the_same_keys() -> None:
    keys = {}
    for lang in ("ru", "en"):
        result = subprocess.run(
            [
                support.php(),
                "-r",
                f"echo implode(\"\\n\", array_keys(require '{support.MODULE}/Messages/{lang}.php'));",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        keys[lang] = set(result.stdout.split())
    assert keys["ru"] == keys["en"]


REGIONS = {"RU": "7", "KZ": "7", "BY": "375", "UZ": "998", "KG": "996", "TJ": "992", "AM": "374"}
REGIONS |= {"AZ": "994", "GE": "995", "MD": "373", "UA": "380"}


def test_the_page_offers_the_regions_this_test_knows(modules_dir: Path) -> None:
    assert installed(modules_dir)["regions"] == REGIONS


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_a_chosen_region_sets_its_country_code_and_the_daemon_knows_it(
    modules_dir: Path, region: str
) -> None:
    out = installed(modules_dir, actions=["save"], changes={"number_region": region, "country_code": "7"})
    numbering = loads(out["yaml"]).numbering
    assert (out["validate"], numbering.region, numbering.country_code) == ([], region, REGIONS[region])


def test_without_a_region_the_country_code_is_used(modules_dir: Path) -> None:
    out = installed(modules_dir, actions=["save"], changes={"number_region": "", "country_code": "49"})
    numbering = loads(out["yaml"]).numbering
    assert (numbering.region, numbering.country_code) == ("", "49")
