"""Every rendered manifest is valid: core kinds against the Kubernetes schemas
(kubernetes-validate, offline), Strimzi and prometheus-operator resources against
the JSON schemas in ``crd_schemas/``."""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the dev extra
import kubernetes_validate
import pytest

from tests.deploy.manifests import JOB_TREES, OVERLAYS, Resource, render

KUBERNETES_VERSION = "1.34.0"
"""A recent release kubernetes-validate bundles; the manifests use nothing newer."""

CRD_SCHEMAS = Path(__file__).parent / "crd_schemas"
CUSTOM_GROUPS = ("kafka.strimzi.io/", "monitoring.coreos.com/")

EXPECTED_KINDS = {
    "Namespace",
    "ServiceAccount",
    "ConfigMap",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "HorizontalPodAutoscaler",
    "NetworkPolicy",
    "Kafka",
    "KafkaNodePool",
    "KafkaTopic",
    "KafkaUser",
    "ServiceMonitor",
}


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    path = CRD_SCHEMAS / f"{api_version.replace('/', '_')}_{kind}.json"
    assert path.is_file(), f"no schema {path.name} for {kind} ({api_version})"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def validate(resource: Resource) -> None:
    """Raise when ``resource`` does not match its schema."""
    api_version, kind = resource["apiVersion"], resource["kind"]
    if api_version.startswith(CUSTOM_GROUPS):
        jsonschema.Draft202012Validator(crd_schema(api_version, kind)).validate(resource)
    else:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def label(resource: Resource) -> str:
    return f"{resource['kind']}/{resource['metadata']['name']}"


@pytest.mark.parametrize("tree", [f"overlays/{o}" for o in OVERLAYS] + list(JOB_TREES))
def test_every_rendered_resource_matches_its_schema(tree: str) -> None:
    resources = render(tree)
    assert resources, f"{tree} rendered nothing"
    failures = []
    for resource in resources:
        try:
            validate(resource)
        except Exception as exc:  # collect all, report together
            failures.append(f"{label(resource)}: {exc}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_every_kind_the_hub_needs(overlay: str) -> None:
    kinds = {r["kind"] for r in render(f"overlays/{overlay}")}
    assert kinds >= EXPECTED_KINDS, f"missing: {sorted(EXPECTED_KINDS - kinds)}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_everything_lands_in_the_overlay_namespace(overlay: str) -> None:
    resources = render(f"overlays/{overlay}")
    (namespace,) = [r["metadata"]["name"] for r in resources if r["kind"] == "Namespace"]
    stray = [
        label(r)
        for r in resources
        if r["kind"] != "Namespace" and r["metadata"].get("namespace") != namespace
    ]
    assert not stray


def _first(resources: list[Resource], kind: str) -> Resource:
    return copy.deepcopy(next(r for r in resources if r["kind"] == kind))


@pytest.mark.parametrize(
    ("kind", "break_it"),
    [
        # a misspelt field must not pass unnoticed (the API server would prune it)
        ("Deployment", lambda r: r["spec"]["template"]["spec"].update(securityContex={})),
        ("PodDisruptionBudget", lambda r: r["spec"].update(maxUnavailable=[1])),
        ("KafkaTopic", lambda r: r["spec"].update(partition=3)),
        ("KafkaTopic", lambda r: r["spec"].update(partitions=0)),
        ("KafkaUser", lambda r: r["spec"]["authorization"]["acls"][0].update(operation="Read")),
        (
            "KafkaUser",
            lambda r: r["spec"]["authorization"]["acls"][0]["resource"].update(type="topics"),
        ),
        ("KafkaUser", lambda r: r["metadata"]["labels"].pop("strimzi.io/cluster")),
        ("Kafka", lambda r: r["spec"]["kafka"]["listeners"][0].update(port=9404)),
        ("Kafka", lambda r: r["spec"]["kafka"].update(replicas=3)),  # gone in v1: node pools
        ("KafkaNodePool", lambda r: r["spec"].pop("roles")),
        ("ServiceMonitor", lambda r: r["spec"]["endpoints"][0].update(interval="15 seconds")),
    ],
)
def test_validation_catches_a_broken_resource(kind: str, break_it: Any) -> None:
    resource = _first(render("overlays/prod"), kind)
    validate(resource)
    break_it(resource)
    with pytest.raises(Exception, match=r"."):
        validate(resource)


def test_prometheus_rule_schema_rejects_rules_prometheus_would_reject() -> None:
    schema = crd_schema("monitoring.coreos.com/v1", "PrometheusRule")
    rule: dict[str, Any] = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "r"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up == 0"}]}]},
    }
    jsonschema.validate(rule, schema)
    for broken in (
        {"alert": "A", "record": "r", "expr": "up"},  # both kinds at once
        {"alert": "A"},  # no expression
        {"alert": "A", "expr": "up", "for": "5 minutes"},
    ):
        rule["spec"]["groups"][0]["rules"] = [broken]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(rule, schema)
