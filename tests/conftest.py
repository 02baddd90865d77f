"""Project-wide test rules: under CI (CI=true) a skipped test is a failed test.

Real services (Asterisk, chromium) may be absent on a developer's machine, so their tests skip
there; in CI everything must run, so a skip there means a missing install step.
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    """Turn skips into failures when running in CI."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is not allowed: {reason}"


@pytest.fixture(scope="session")
def postgres_cluster() -> Generator[object, None, None]:
    """One throwaway PostgreSQL server for the run (tests/postgres.py), started on first use.

    Without PostgreSQL the tests that need it skip, and under CI=true a skip is a failure.
    """
    from tests import postgres

    try:
        cluster = postgres.start()
    except postgres.PostgresUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield cluster
    finally:
        cluster.stop()
