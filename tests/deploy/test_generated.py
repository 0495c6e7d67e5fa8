"""The generated manifests are in sync with their sources, the monitoring resources
wrap the metrics package's own rules and dashboard, and every KafkaUser may do
only what its component needs."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from broker_adapters.delivery.retry import delivery_topics
from broker_adapters.delivery.settings import DeliverySettings
from deploy.k8s import generate
from kafka_io.settings import TopicSettings
from meldingshub.components.router import router_topics
from routing.settings import RoutingSettings
from tests.deploy.manifests import K8S, Resource, by_name, of_kind, render, render_tree
from tests.deploy.test_manifests import validate

SAMPLE_RULES = {
    "groups": [
        {
            "name": "meldingshub",
            "rules": [
                {
                    "alert": "MeldingshubDown",
                    "expr": "up{job=~'meldingshub.*'} == 0",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {"summary": "a hub process is down"},
                }
            ],
        }
    ]
}
SAMPLE_DASHBOARD = json.dumps({"uid": "meldingshub", "id": None, "title": "meldingshub"}, indent=2)


def test_committed_generated_files_are_in_sync() -> None:
    problems = generate.stale(generate.outputs())
    assert not problems, "\n".join(problems) + "\nrun: .venv/bin/python deploy/k8s/generate.py"


def _committed() -> dict[Path, str]:
    """What is on disk now, in the shape of ``generate.outputs()``."""
    return {p: p.read_text(encoding="utf-8") for p in generate.outputs() if p.is_file()}


def test_a_drifted_missing_or_orphaned_file_is_reported() -> None:
    expected = _committed()
    topics = K8S / "base" / "kafka" / "topics.yaml"
    users = K8S / "base" / "kafka" / "users.yaml"
    expected[topics] += "# edited by hand\n"
    expected[users.with_name("absent.yaml")] = "x"
    orphans = {p for p in generate.GENERATED_NAMES if p.is_file()}
    for orphan in orphans:
        del expected[orphan]
    assert generate.stale(expected) == sorted(
        [
            "deploy/k8s/base/kafka/absent.yaml is missing",
            "deploy/k8s/base/kafka/topics.yaml is out of date",
        ]
        + [f"{p.relative_to(generate.REPO)} has no source any more" for p in orphans]
    )


def test_check_mode_exits_non_zero_only_when_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    on_disk = _committed()
    monkeypatch.setattr(generate, "outputs", lambda: on_disk)
    assert generate.main(["--check"]) == 0
    monkeypatch.setattr(generate, "outputs", lambda: {p: c + "#\n" for p, c in on_disk.items()})
    assert generate.main(["--check"]) == 1


def test_prometheus_rules_are_the_metrics_packages_rules() -> None:
    if not generate.RULES_SOURCE.is_file():
        pytest.skip("deploy/prometheus/rules.yml does not exist yet (metrics issue)")
    rules = yaml.safe_load(generate.RULES_SOURCE.read_text(encoding="utf-8"))
    (rule,) = of_kind(render("overlays/prod"), "PrometheusRule")
    assert rule["spec"]["groups"] == rules["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_grafana_dashboard_is_the_metrics_packages_dashboard() -> None:
    if not generate.DASHBOARD_SOURCE.is_file():
        pytest.skip("deploy/grafana/meldingshub.json does not exist yet (metrics issue)")
    text = generate.DASHBOARD_SOURCE.read_text(encoding="utf-8")
    configmaps = by_name(render("overlays/prod"), "ConfigMap")
    dashboard = configmaps["meldingshub-grafana-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"] == {"meldingshub.json": text}
    # a ConfigMap holds at most 1 MiB; client-side apply stops at 256 KiB (README)
    assert len(text.encode()) < 1024 * 1024


def test_monitoring_sources_flow_into_the_rendered_overlays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mechanism end to end, with sample sources in a copy of deploy/k8s."""
    rules_file = tmp_path / "rules.yml"
    rules_file.write_text(yaml.safe_dump(SAMPLE_RULES), encoding="utf-8")
    dashboard_file = tmp_path / "meldingshub.json"
    dashboard_file.write_text(SAMPLE_DASHBOARD, encoding="utf-8")
    monkeypatch.setattr(generate, "RULES_SOURCE", rules_file)
    monkeypatch.setattr(generate, "DASHBOARD_SOURCE", dashboard_file)
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path, content in generate.outputs().items():
        (copy / path.relative_to(K8S)).write_text(content, encoding="utf-8")

    resources = render_tree(copy / "overlays" / "prod")
    (rule,) = of_kind(resources, "PrometheusRule")
    assert rule["spec"]["groups"] == SAMPLE_RULES["groups"]
    dashboard = by_name(resources, "ConfigMap")["meldingshub-grafana-dashboard"]
    assert dashboard["data"]["meldingshub.json"] == SAMPLE_DASHBOARD
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    for resource in (rule, dashboard):
        validate(resource)


def test_a_dashboard_grafana_cannot_read_is_refused() -> None:
    with pytest.raises(json.JSONDecodeError):
        generate.dashboard_configmap("{not json")
    with pytest.raises(ValueError, match="groups"):
        generate.prometheus_rule({"rules": []})


# --- ACLs: evaluated the way Kafka's simple authorizer does ---------------------


def allowed(user: Resource, kind: str, name: str, operation: str) -> bool:
    """Whether ``user``'s ACLs allow ``operation`` on the resource (Read/Write imply Describe)."""
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        if resource["type"] != kind or acl.get("type", "allow") != "allow":
            continue
        pattern = resource.get("name", "")
        if resource.get("patternType", "literal") == "prefix":
            matches = name.startswith(pattern)
        else:
            matches = pattern in (name, "*")
        implied = {operation, "All"} | ({"Read", "Write"} if operation == "Describe" else set())
        if matches and implied & set(acl["operations"]):
            return True
    return False


@pytest.fixture(scope="module")
def users() -> dict[str, Resource]:
    return {
        u["metadata"]["labels"]["app.kubernetes.io/component"]: u
        for u in of_kind(render("overlays/prod"), "KafkaUser")
    }


TOPICS = TopicSettings()
RECEIVER_TOPIC = generate.DELIVER_TOPIC_PREFIX + "8094866"
RETRY_TOPIC = generate.retry_topics()[0]
PRINCIPAL_TOPIC = generate.PRINCIPAL_TOPIC_PREFIX + "epj-a"
ROUTING = RoutingSettings()
DELIVERY = DeliverySettings()


@pytest.mark.parametrize(
    ("component", "kind", "name", "operation", "expected"),
    [
        ("ingress-http", "topic", TOPICS.inbound.name, "Write", True),
        ("ingress-http", "topic", TOPICS.inbound.name, "Read", False),
        ("ingress-http", "topic", TOPICS.outbound.name, "Write", False),
        ("ingress-http", "topic", PRINCIPAL_TOPIC, "Read", True),
        ("ingress-http", "topic", PRINCIPAL_TOPIC, "Write", False),
        ("ingress-http", "topic", TOPICS.parties.name, "Read", True),
        ("ingress-http", "group", generate.GROUPS["ingress-http"], "Read", True),
        ("router", "topic", PRINCIPAL_TOPIC, "Read", False),
        ("router", "topic", PRINCIPAL_TOPIC, "Write", False),
        ("delivery", "topic", PRINCIPAL_TOPIC, "Write", False),
        ("router", "topic", TOPICS.inbound.name, "Read", True),
        ("router", "topic", TOPICS.outbound.name, "Write", True),
        ("router", "topic", TOPICS.events.name, "Write", True),
        ("router", "topic", TOPICS.parties.name, "Read", True),
        ("router", "topic", TOPICS.parties.name, "Write", False),
        ("router", "topic", RECEIVER_TOPIC, "Read", False),
        ("router", "topic", RECEIVER_TOPIC, "Write", False),
        ("router", "topic", RETRY_TOPIC, "Read", False),
        ("router", "topic", ROUTING.dedup_topic, "Read", True),
        ("router", "topic", ROUTING.dedup_topic, "Write", True),
        ("router", "topic", ROUTING.sent_topic, "Write", True),
        ("router", "topic", DELIVERY.backlog_topic, "Read", False),
        ("router", "group", generate.GROUPS["delivery"], "Read", False),
        ("router", "group", generate.GROUPS["router"], "Read", True),
        ("router", "transactionalId", generate.GROUPS["router"] + "-0a1b2c", "Write", True),
        ("delivery", "topic", TOPICS.outbound.name, "Read", True),
        ("delivery", "topic", RECEIVER_TOPIC, "Write", True),
        ("delivery", "topic", RECEIVER_TOPIC, "Create", True),
        ("delivery", "topic", RECEIVER_TOPIC, "Read", False),
        ("delivery", "topic", RETRY_TOPIC, "Read", True),
        ("delivery", "topic", TOPICS.inbound.name, "Read", True),  # claim checks
        ("delivery", "topic", TOPICS.inbound.name, "Write", False),
        ("delivery", "topic", DELIVERY.backlog_topic, "Write", True),
        ("delivery", "topic", DELIVERY.status_topic, "Write", True),
        ("delivery", "topic", ROUTING.dedup_topic, "Read", False),
        ("aggregator", "topic", ROUTING.sent_topic, "Read", False),
        ("delivery", "group", generate.GROUPS["delivery"], "Read", True),
        ("aggregator", "topic", TOPICS.events.name, "Read", True),
        ("aggregator", "topic", TOPICS.events.name, "Write", False),
        ("aggregator", "topic", TOPICS.inbound.name, "Read", False),
        ("aggregator", "topic", TOPICS.outbound.name, "Read", False),
        ("register-api", "topic", TOPICS.parties.name, "Read", True),
        ("register-api", "topic", TOPICS.parties.name, "Write", False),
        ("register-api", "topic", TOPICS.outbound.name, "Read", False),
        ("register-import", "topic", TOPICS.parties.name, "Write", True),
        ("register-import", "topic", TOPICS.inbound.name, "Write", False),
    ],
)
def test_each_component_may_use_only_its_own_topics_and_groups(
    users: dict[str, Resource],
    component: str,
    kind: str,
    name: str,
    operation: str,
    expected: bool,
) -> None:
    assert allowed(users[component], kind, name, operation) is expected


def test_every_process_may_describe_the_core_topics_it_checks_at_start(
    users: dict[str, Resource],
) -> None:
    for component, user in users.items():
        for spec in TOPICS.all():
            assert allowed(user, "topic", spec.name, "Describe"), (component, spec.name)


def test_no_user_has_wildcards_or_cluster_rights(users: dict[str, Resource]) -> None:
    for component, user in users.items():
        for acl in user["spec"]["authorization"]["acls"]:
            assert acl["resource"]["type"] != "cluster", component
            assert acl["resource"].get("name") not in (None, "", "*"), component
            assert "All" not in acl["operations"], component
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"


def test_each_consumer_group_belongs_to_one_component(users: dict[str, Resource]) -> None:
    for owner, group in generate.GROUPS.items():
        readers = {c for c, u in users.items() if allowed(u, "group", group, "Read")}
        assert readers == {owner}, group


def _topic_names(resources: list[dict[str, Any]]) -> set[str]:
    return {t["spec"].get("topicName", t["metadata"]["name"]) for t in resources}


def test_retry_tiers_have_topics_sized_like_outbound() -> None:
    topics = {t["metadata"]["name"]: t for t in of_kind(render("overlays/prod"), "KafkaTopic")}
    assert set(generate.retry_topics()) <= _topic_names(list(topics.values()))
    for name in generate.retry_topics():
        assert topics[name]["spec"]["partitions"] == TOPICS.outbound.partitions


def test_every_topic_a_component_creates_at_start_is_declared_and_usable(
    users: dict[str, Resource],
) -> None:
    """Strimzi clusters refuse auto-creation: a state topic missing here stops the component."""
    declared = {t["metadata"]["name"]: t for t in of_kind(render("overlays/prod"), "KafkaTopic")}
    own = {
        "router": router_topics(ROUTING, TOPICS.inbound.partitions),
        "delivery": delivery_topics(DELIVERY, TOPICS.outbound.partitions),
    }
    for component, specs in own.items():
        for spec in specs:
            assert spec.name in declared, (component, spec.name)
            topic = declared[spec.name]["spec"]
            assert topic["partitions"] == spec.partitions, spec.name
            assert spec.config.items() <= topic["config"].items(), spec.name
            for operation in ("Read", "Write"):
                assert allowed(users[component], "topic", spec.name, operation), (
                    component,
                    spec.name,
                    operation,
                )


def test_router_state_topics_expire_with_the_windows_they_serve() -> None:
    routing = RoutingSettings(dedup_window_days=2, correlation_window_hours=96)
    config = {spec.name: spec.config for spec in router_topics(routing, 6)}
    assert config[routing.dedup_topic]["retention.ms"] == str(2 * 86_400_000)
    assert config[routing.sent_topic]["retention.ms"] == str(96 * 3_600_000)
    assert all(c["cleanup.policy"] == "compact,delete" for c in config.values())


PRINCIPALS = """
[[principal]]
name = "epj-a"
her_ids = [8094866]
kafka_principal = "User:epj-a"

[[principal]]
name = "Kommune_B"
her_ids = [91]
kafka_principal = "User:Kommune_B"

[[principal]]
name = "http-only"
her_ids = [92]
"""


def test_each_kafka_principal_may_write_its_own_ingress_topic_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "principals.toml"
    path.write_text(PRINCIPALS)
    assert generate.main(["--principals", str(path)]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    users = {
        u["metadata"]["labels"]["meldingshub/principal"]: u for u in of_kind(documents, "KafkaUser")
    }
    topics = _topic_names(of_kind(documents, "KafkaTopic"))
    prefix = generate.PRINCIPAL_TOPIC_PREFIX
    assert set(users) == {"epj-a", "Kommune_B"}  # no Kafka user for an HTTP-only principal
    assert topics == {prefix + "epj-a", prefix + "Kommune_B"}
    assert users["Kommune_B"]["metadata"]["name"] == "principal-kommune-b"
    assert not any(u["metadata"]["name"].startswith("meldingshub-") for u in users.values())
    for name, user in users.items():
        for other in ("epj-a", "Kommune_B"):
            own = other == name
            assert allowed(user, "topic", prefix + other, "Write") is own
            assert allowed(user, "topic", prefix + other, "Read") is False
        for spec in TOPICS.all():
            assert not allowed(user, "topic", spec.name, "Write"), (name, spec.name)
            assert not allowed(user, "topic", spec.name, "Read"), (name, spec.name)


def test_principals_that_would_share_a_kafka_user_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    path.write_text(
        PRINCIPALS + '[[principal]]\nname = "kommune-b"\nher_ids = [93]\nkafka_principal = "x"\n'
    )
    with pytest.raises(ValueError, match="share KafkaUser principal-kommune-b"):
        generate.main(["--principals", str(path)])
