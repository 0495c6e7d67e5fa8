"""The shipped alert rules behave as meant: ``promtool test rules`` on deploy/prometheus/tests/.

Each alert of deploy/prometheus/rules.yml has a case where it fires and one where it must
not (a healthy start among them). The Kubernetes PrometheusRule carries the same groups
(tests/deploy/test_generated.py), so these cases hold for it too.
"""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.slow

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules.yml"
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))


def promtool() -> str:
    """promtool's path; missing is a failure, not a skip, so no run silently tests nothing."""
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (Debian's package)")
    return found


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def alert_names() -> set[str]:
    return {rule["alert"] for group in load(RULES)["groups"] for rule in group["rules"]}


def test_promtool_passes_every_rule_test() -> None:
    assert RULE_TESTS, f"no rule tests in {PROMETHEUS / 'tests'}"
    result = subprocess.run(
        [promtool(), "test", "rules", *map(str, RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_tests_load_the_shipped_rules() -> None:
    for path in RULE_TESTS:
        files = [(path.parent / name).resolve() for name in load(path)["rule_files"]]
        assert files == [RULES], path


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    fires: set[str] = set()
    stays_quiet: set[str] = set()
    for path in RULE_TESTS:
        for case in load(path)["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else stays_quiet).add(check["alertname"])
    alerts = alert_names()
    assert alerts <= fires, f"never seen firing: {sorted(alerts - fires)}"
    assert alerts <= stays_quiet, f"never seen quiet: {sorted(alerts - stays_quiet)}"
    assert fires | stays_quiet <= alerts, f"not in rules.yml: {sorted(fires - alerts)}"
