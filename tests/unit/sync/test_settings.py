"""The delivery settings as read from YAML: outbox checks, the webhook section, embedded rate limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector import config
from connector.errors import ConfigError
from connector.sync.dispatcher import rate_limits
from connector.sync.ratelimit import RateLimit

MINIMAL = "ami:\n  username: crm\n  secret: s3cret\n"
WEBHOOK = """adapters:
  webhook:
    url: https://hooks.example.com/pbx
    secret: 0123456789abcdef-secret
    rate_limit:
      rate: 2
      burst: 50
"""


def test_webhook_rate_limit_is_read_into_a_rate_limit() -> None:
    settings = config.loads(MINIMAL + WEBHOOK)
    assert rate_limits(settings.adapters) == {"webhook": RateLimit(2.0, 50)}


def test_adapter_without_a_rate_limit_has_none() -> None:
    settings = config.loads(
        MINIMAL + WEBHOOK.replace("    rate_limit:\n      rate: 2\n      burst: 50\n", "")
    )
    assert rate_limits(settings.adapters) == {"webhook": None}


def test_short_webhook_secret_is_refused_naming_the_section() -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:\d+: adapters\.webhook\.secret: secret must be at least"):
        config.loads(MINIMAL + WEBHOOK.replace("0123456789abcdef-secret", "short"), "c.yaml")


def test_job_timeout_must_be_shorter_than_the_lease() -> None:
    with pytest.raises(ConfigError, match="job_timeout < lease_seconds"):
        config.loads(MINIMAL + "outbox:\n  lease_seconds: 10\n  job_timeout: 20\n")


def test_outbox_file_defaults_to_the_state_directory() -> None:
    settings = config.loads(MINIMAL + "storage:\n  dir: /srv/state\n")
    assert settings.outbox.path(settings.storage.dir) == Path("/srv/state/outbox.db")


def test_example_webhook_section_loads_when_uncommented() -> None:
    example = Path(__file__).resolve().parents[3] / "config" / "connector.example.yaml"
    lines = example.read_text(encoding="utf-8").splitlines()
    start = lines.index("  # webhook:")
    section = [
        line.replace("  # ", "  ", 1)
        for line in lines[start:]
        if line.startswith("  #   ") or line == "  # webhook:"
    ]
    settings = config.loads(
        MINIMAL + "adapters:\n" + "\n".join(section) + "\n",
        environ={"WEBHOOK_SECRET": "x" * 20, "CRM_INGEST_TOKEN": "t" * 20},
    )
    assert rate_limits(settings.adapters)["webhook"] == RateLimit(5.0, 10, 4)
