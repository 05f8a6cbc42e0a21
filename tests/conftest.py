"""Shared fixtures: the engine twins, and a guard against a run that tests nothing."""

from __future__ import annotations

import pytest

# Both twins are always tested: the compiled one must be importable here (CI installs
# Hyperscan), so a failed build fails the suite instead of silently testing only one engine.
IMPLEMENTATIONS = ["hyperscan", "re2"]


@pytest.fixture(params=IMPLEMENTATIONS, scope="module")
def implementation(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter else 0
    if exitstatus == 0 and passed == 0:
        session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
