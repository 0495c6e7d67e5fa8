"""The manifests speak the code's language: every setting they set exists in the
settings model and loads, secrets are the model's secret fields, topics and
ports are the model's, the probes hit endpoints the ops server serves, and the
components deployed are the ones ``meldingshub run`` knows."""

import os
import typing
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, SecretStr

from deploy.k8s import generate
from meldingshub.ops_server import OpsServer
from meldingshub.settings import Settings
from meldingshub.wiring import BUILDERS
from tests.deploy.manifests import (
    JOB_TREES,
    OVERLAYS,
    Resource,
    by_name,
    component_of,
    container_env,
    containers,
    of_kind,
    pod_specs,
    render,
)

PREFIX = "MELDINGSHUB_"
ALL_TREES = [f"overlays/{o}" for o in OVERLAYS] + list(JOB_TREES)
CONSUMED_TOPIC = {"router": "inbound", "delivery": "outbound"}
"""The topic whose partitions bound each autoscaled component's useful replicas."""


def field_of(env_name: str) -> Any:
    """The settings-model field an environment variable sets, or None when there is none."""
    model: type[BaseModel] = Settings
    parts = env_name.removeprefix(PREFIX).lower().split("__")
    for position, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return None
        if position == len(parts) - 1:
            return field
        annotation = field.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return None


def is_secret(field: Any) -> bool:
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MELDINGSHUB_* from the developer's shell may leak into a settings load."""
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch


def workload_envs(tree: str) -> list[tuple[str, dict[str, Resource]]]:
    resources = render(tree)
    return [
        (f"{workload['metadata']['name']}/{container['name']}", container_env(resources, container))
        for workload, pod in pod_specs(resources)
        for container in containers(pod)
    ]


@pytest.mark.parametrize("tree", ALL_TREES)
def test_every_setting_in_the_manifests_exists_in_the_settings_model(tree: str) -> None:
    unknown = [
        f"{where}: {name}"
        for where, env in workload_envs(tree)
        for name in env
        if name.startswith(PREFIX) and field_of(name) is None
    ]
    assert not unknown, "\n".join(unknown)


@pytest.mark.parametrize("tree", ALL_TREES)
def test_secret_settings_come_from_secrets(tree: str) -> None:
    for where, env in workload_envs(tree):
        for name, item in env.items():
            field = field_of(name) if name.startswith(PREFIX) else None
            if field is not None and is_secret(field):
                assert "secretKeyRef" in item.get("valueFrom", {}), f"{where}: {name}"
        # the store DSN holds the database password: a Secret although the model has a str
        if "MELDINGSHUB_STORE__DSN" in env:
            assert "secretKeyRef" in env["MELDINGSHUB_STORE__DSN"]["valueFrom"], where


def _load(env: dict[str, Resource], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, item in env.items():
        if name.startswith(PREFIX):
            monkeypatch.setenv(name, item.get("value", "from-a-secret"))
    return Settings()


@pytest.mark.parametrize("tree", ALL_TREES)
def test_each_workloads_environment_loads_into_valid_settings(
    tree: str, clean_env: pytest.MonkeyPatch
) -> None:
    resources = render(tree)
    kafka = by_name(resources, "Kafka")
    for workload, pod in pod_specs(resources):
        container = pod["containers"][0]
        with clean_env.context() as env_patch:
            settings = _load(container_env(resources, container), env_patch)
        assert not settings.kafka.embedded, "production talks to the Strimzi cluster"
        assert settings.kafka.security_protocol == "SASL_SSL"
        assert settings.kafka.sasl_mechanism == "SCRAM-SHA-512"
        assert settings.kafka.sasl_username == workload["metadata"]["name"]
        host, port = settings.kafka.bootstrap_servers.split(":")
        assert host == f"{generate.CLUSTER}-kafka-bootstrap"
        for cluster in kafka.values():  # the Job tree has no cluster of its own
            (listener,) = [
                listener
                for listener in cluster["spec"]["kafka"]["listeners"]
                if listener["port"] == int(port)
            ]
            assert listener["tls"] is True
            assert listener["authentication"]["type"] == "scram-sha-512"
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert str(settings.data_dir) in mounts and not mounts[str(settings.data_dir)].get(
            "readOnly"
        )
        ca = Path(settings.kafka.ssl_ca_location or "")
        volume = {v["name"]: v for v in pod["volumes"]}[mounts[str(ca.parent)]["name"]]
        assert volume["secret"]["secretName"] == f"{generate.CLUSTER}-cluster-ca-cert"
        assert ca.name in {item["path"] for item in volume["secret"]["items"]}
        assert settings.log.format == "json"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_container_ports_are_the_configured_bind_ports(
    overlay: str, clean_env: pytest.MonkeyPatch
) -> None:
    resources = render(f"overlays/{overlay}")
    services = of_kind(resources, "Service")
    for deployment in of_kind(resources, "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        with clean_env.context() as env_patch:
            settings = _load(container_env(resources, container), env_patch)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        api_host, _, api_port = settings.http.api_bind.rpartition(":")
        ops_host, _, ops_port = settings.http.ops_bind.rpartition(":")
        assert api_host == ops_host == "0.0.0.0"  # noqa: S104 (a pod must listen on its IP)
        assert ports["ops"] == int(ops_port)
        if "http" in ports:
            assert ports["http"] == int(api_port)
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (service,) = [s for s in services if s["spec"]["selector"].items() <= labels.items()]
        assert {p["targetPort"] for p in service["spec"]["ports"]} == set(ports)


def test_probe_and_scrape_paths_are_served_by_the_ops_server() -> None:
    deployment = of_kind(render("overlays/prod"), "Deployment")[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    monitor = of_kind(render("overlays/prod"), "ServiceMonitor")[0]
    paths = {
        container[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    } | {monitor["spec"]["endpoints"][0]["path"]}
    ops = OpsServer("127.0.0.1:0", CollectorRegistry(), {"broker": lambda: True})
    ops.start()
    try:
        for path in sorted(paths):
            with urllib.request.urlopen(ops.url + path, timeout=5) as response:  # noqa: S310
                assert response.status == 200, path
        ops.checks["broker"] = lambda: False
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(ops.url + "/readyz", timeout=5)  # noqa: S310
        assert failed.value.code == 503, "readiness must fail when a check fails"
    finally:
        ops.stop()


@pytest.fixture
def defaults(clean_env: pytest.MonkeyPatch) -> Settings:
    """The settings a hub process gets when nothing overrides them."""
    return Settings()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topics_are_the_settings_topics(overlay: str, defaults: Settings) -> None:
    resources = render(f"overlays/{overlay}")
    topics = {
        t["spec"].get("topicName", t["metadata"]["name"]): t
        for t in of_kind(resources, "KafkaTopic")
    }
    brokers = sum(
        pool["spec"]["replicas"]
        for pool in of_kind(resources, "KafkaNodePool")
        if "broker" in pool["spec"]["roles"]
    )
    for spec in defaults.kafka.topics.all():
        assert spec.name in topics, spec.name
        topic = topics[spec.name]["spec"]
        assert topic["partitions"] >= spec.partitions, spec.name
        assert spec.config.items() <= topic["config"].items(), spec.name
    for name, topic in topics.items():
        assert topics[name]["metadata"]["labels"]["strimzi.io/cluster"] == generate.CLUSTER
        replicas = topic["spec"]["replicas"]
        min_isr = int(topic["spec"]["config"]["min.insync.replicas"])
        assert replicas <= brokers, name
        # production survives one broker down without refusing acks=all writes
        assert min_isr < replicas if brokers > 1 else min_isr == 1, name


def test_consumer_groups_are_the_settings_groups(defaults: Settings) -> None:
    assert generate.GROUPS["router"] == defaults.routing.group_id
    assert generate.GROUPS["aggregator"] == defaults.statistics.group_id


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_autoscalers_never_exceed_the_partitions_they_consume(
    overlay: str, defaults: Settings
) -> None:
    resources = render(f"overlays/{overlay}")
    deployments = by_name(resources, "Deployment")
    topics = {t["metadata"]["name"]: t for t in of_kind(resources, "KafkaTopic")}
    for hpa in of_kind(resources, "HorizontalPodAutoscaler"):
        component = component_of(deployments[hpa["spec"]["scaleTargetRef"]["name"]])
        topic = getattr(defaults.kafka.topics, CONSUMED_TOPIC[component]).name
        assert hpa["spec"]["maxReplicas"] <= topics[topic]["spec"]["partitions"], component


@pytest.mark.parametrize("tree", ALL_TREES)
def test_each_workload_authenticates_as_its_own_kafka_user(tree: str) -> None:
    users = {u["metadata"]["name"] for u in of_kind(render("overlays/prod"), "KafkaUser")}
    for where, env in workload_envs(tree):
        username = env["MELDINGSHUB_KAFKA__SASL_USERNAME"]["value"]
        assert where.startswith(username + "/"), where
        assert username in users
        # Strimzi's User Operator writes the SCRAM password to a Secret named after the user
        ref = env["MELDINGSHUB_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert (ref["name"], ref["key"]) == (username, "password")


def test_deployments_run_the_contract_components() -> None:
    deployments = of_kind(render("overlays/prod"), "Deployment")
    commands = {
        component_of(d): d["spec"]["template"]["spec"]["containers"][0]["args"] for d in deployments
    }
    assert commands == {c: ["run", c] for c in generate.COMPONENTS}
    users = {component_of(u) for u in of_kind(render("overlays/prod"), "KafkaUser")}
    assert users == {*generate.COMPONENTS, *generate.JOBS}


def test_every_component_the_hub_has_is_deployed() -> None:
    missing = sorted(set(BUILDERS) - set(generate.COMPONENTS))
    assert not missing, f"meldingshub run knows {missing} but deploy/k8s does not deploy them"


def test_every_deployed_component_exists_in_the_hub() -> None:
    absent = sorted(set(generate.COMPONENTS) - set(BUILDERS))
    assert not absent, f"deploy/k8s deploys {absent}, which `meldingshub run` does not know"


def test_the_register_job_repeats_the_base_kafka_settings_exactly() -> None:
    base_env = dict(
        line.split("=", 1)
        for line in (generate.K8S / "base" / "hub.env").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    ((_, job_env),) = workload_envs("jobs/register-import")
    for name, item in job_env.items():
        if name in base_env:
            assert item["value"] == base_env[name], name
    assert {n for n in base_env if n.startswith(PREFIX + "KAFKA__")} <= set(job_env)
