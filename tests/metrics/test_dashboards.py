"""The Grafana dashboard and alert rules name only metrics the hub exports, and parse."""

import importlib
import inspect
import json
import pkgutil
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

import metrics
from metrics.health import HealthMetrics
from metrics.live import HubMetrics

DEPLOY = Path(__file__).parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "meldingshub.json"
RULES = DEPLOY / "prometheus" / "rules.yml"

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?\d+[smhdwy]")
_IDENT = re.compile(r"(?<![\w$.])[a-zA-Z_:][a-zA-Z0-9_:]*")
_NOT_METRICS = {
    # aggregation operators, functions and keywords that the expressions here use
    "sum", "min", "max", "avg", "count", "topk", "bottomk", "rate", "increase", "deriv",
    "histogram_quantile", "clamp_min", "clamp_max", "absent", "hour", "day_of_week",
    "vector", "scalar", "and", "or", "unless", "bool",
}  # fmt: skip


def exported_metric_names() -> set[str]:
    """Every sample name a hub process can expose: each metrics class of the ``metrics``
    package that takes only a registry (HubMetrics, the register's, delivery's, ...)."""
    registry = CollectorRegistry()
    HubMetrics(registry, consumer_groups=["hub.router"])  # a labelled gauge needs a child
    HealthMetrics(registry, lambda: True, {"http": lambda: True})
    for info in pkgutil.iter_modules(metrics.__path__):
        module = importlib.import_module(f"metrics.{info.name}")
        for item in vars(module).values():
            if (
                not isinstance(item, type)
                or item.__module__ != module.__name__
                or item in (HubMetrics, HealthMetrics)
            ):
                continue
            try:
                parameters = inspect.signature(item).parameters
            except (TypeError, ValueError):
                continue
            others = [p for n, p in parameters.items() if n != "registry"]
            if "registry" in parameters and all(p.default is not p.empty for p in others):
                item(registry=registry)
    return {sample.name for metric in registry.collect() for sample in metric.samples}


def metric_names(expression: str) -> set[str]:
    """The metric names an expression selects (label matchers, ranges, grouping removed)."""
    text = _STRINGS.sub('""', expression)
    text = _BRACES.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    text = _OFFSET.sub("", text)
    return {name for name in _IDENT.findall(text) if name not in _NOT_METRICS}


def dashboard_expressions() -> list[str]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found: list[str] = []
    for panel in document["panels"]:
        found.extend(target["expr"] for target in panel.get("targets", []))
    for variable in document["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            found.append(query["query"].replace("label_values(", "").split(",")[0])
    return found


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def test_the_name_parser_finds_metrics_and_nothing_else() -> None:
    expression = (
        'histogram_quantile(0.99, sum by (le, family) (rate(a_seconds_bucket{x=~"b|c"}'
        "[$__rate_interval]))) / on () group_left (x) b_total offset 1w and on() hour() >= 6"
    )
    assert metric_names(expression) == {"a_seconds_bucket", "b_total"}


def test_dashboard_shape() -> None:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert document["id"] is None
    assert document["uid"] == "meldingshub-overview"
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    titles = {panel["title"] for panel in document["panels"]}
    for wanted in (
        "Traffic per family",
        "Traffic per category pair",
        "Rejects by AppRec code",
        "Ingress → routed latency",
        "Consumer lag",
        "Delivery failures and retries",
        "AppRec round trip",
    ):
        assert wanted in titles
    for panel in document["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("source", ["dashboard", "rules"])
def test_expressions_name_only_exported_metrics(source: str) -> None:
    expressions = dashboard_expressions() if source == "dashboard" else rule_expressions()
    exported = exported_metric_names()
    used: set[str] = set()
    for expression in expressions:
        names = metric_names(expression)
        assert names, f"no metric found in {expression!r}"
        assert names <= exported, f"{sorted(names - exported)} not exported; in {expression!r}"
        used |= names
    assert len(used) >= 4  # the test would pass vacuously on an empty file otherwise


def _promtool() -> str:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); CI has it")
    return promtool


def test_promtool_accepts_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_expressions_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each panel query as a recording rule (Grafana variables filled in)."""
    rules = [
        {
            "record": f"meldingshub:dashboard_check_{n}",
            "expr": expr.replace("$__rate_interval", "5m").replace("$family", ".*"),
        }
        for n, expr in enumerate(dashboard_expressions())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stdout + result.stderr
