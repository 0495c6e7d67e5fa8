"""The deployment policy holds in every overlay: restricted pods, resources and
probes on every container, disruption budgets, autoscaling, network isolation,
production redundancy, and secrets that are referenced but never valued."""

import re

import pytest

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

ALL_TREES = [f"overlays/{o}" for o in OVERLAYS] + list(JOB_TREES)
SECRET_LIKE = re.compile(r"PASSWORD|SECRET|TOKEN|DSN|CREDENTIAL|PRIVATE|_KEY\b", re.IGNORECASE)
WRITABLE_PATHS = {"/var/lib/meldingshub", "/tmp"}
AUTOSCALED = {"router", "delivery"}


def _failures(checks: dict[str, bool]) -> list[str]:
    return [what for what, ok in checks.items() if not ok]


@pytest.mark.parametrize("tree", ALL_TREES)
def test_every_pod_runs_restricted(tree: str) -> None:
    problems = []
    for workload, pod in pod_specs(render(tree)):
        pod_context = pod.get("securityContext", {})
        for container in containers(pod):
            context = container.get("securityContext", {})
            where = f"{workload['metadata']['name']}/{container['name']}"
            problems += [
                f"{where}: {what}"
                for what in _failures(
                    {
                        "runAsNonRoot": context.get("runAsNonRoot", pod_context.get("runAsNonRoot"))
                        is True,
                        "non-zero runAsUser": context.get(
                            "runAsUser", pod_context.get("runAsUser", 0)
                        )
                        != 0,
                        "allowPrivilegeEscalation false": context.get("allowPrivilegeEscalation")
                        is False,
                        "capabilities drop ALL": context.get("capabilities", {}).get("drop")
                        == ["ALL"],
                        "no added capabilities": not context.get("capabilities", {}).get("add"),
                        "seccomp RuntimeDefault": context.get(
                            "seccompProfile", pod_context.get("seccompProfile", {})
                        ).get("type")
                        == "RuntimeDefault",
                        "readOnlyRootFilesystem": context.get("readOnlyRootFilesystem") is True,
                        "not privileged": not context.get("privileged", False),
                    }
                )
            ]
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{workload['metadata']['name']}: mounts a service-account token")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(f"{workload['metadata']['name']}: shares a host namespace")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tree", ALL_TREES)
def test_every_container_has_requests_and_limits(tree: str) -> None:
    problems = []
    for workload, pod in pod_specs(render(tree)):
        for container in containers(pod):
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(bound, {}):
                        problems.append(
                            f"{workload['metadata']['name']}/{container['name']}: "
                            f"no {resource} {bound}"
                        )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_long_running_container_has_three_probes_on_the_ops_port(overlay: str) -> None:
    problems = []
    for deployment in of_kind(render(f"overlays/{overlay}"), "Deployment"):
        for container in containers(deployment["spec"]["template"]["spec"]):
            where = f"{deployment['metadata']['name']}/{container['name']}"
            paths = {
                probe: container.get(probe, {}).get("httpGet", {})
                for probe in ("startupProbe", "livenessProbe", "readinessProbe")
            }
            expected = {
                "startupProbe": "/livez",
                "livenessProbe": "/livez",  # process health only: never restart on a broker outage
                "readinessProbe": "/readyz",
            }
            for probe, path in expected.items():
                got = paths[probe]
                if got.get("path") != path or got.get("port") != "ops":
                    problems.append(f"{where}: {probe} should GET {path} on port ops, has {got}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("tree", ALL_TREES)
def test_writable_paths_are_only_the_mounted_volumes(tree: str) -> None:
    for workload, pod in pod_specs(render(tree)):
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in containers(pod):
            writable = {
                m["mountPath"] for m in container.get("volumeMounts", []) if not m.get("readOnly")
            }
            assert writable == WRITABLE_PATHS, workload["metadata"]["name"]
            for mount in container.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                assert "hostPath" not in volume
                if mount["mountPath"] in WRITABLE_PATHS:
                    assert volume["emptyDir"].get("sizeLimit"), "bounded scratch space"


@pytest.mark.parametrize("tree", ALL_TREES)
def test_images_are_pinned(tree: str) -> None:
    for _, pod in pod_specs(render(tree)):
        for container in containers(pod):
            image = container["image"]
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{image} has no tag"
            assert tag != "latest", image
            assert container.get("imagePullPolicy") != "Always" or "@sha256:" in image


@pytest.mark.parametrize("tree", ALL_TREES)
def test_secrets_are_referenced_never_valued(tree: str) -> None:
    resources = render(tree)
    assert not of_kind(resources, "Secret"), "Secrets are created in the cluster, not committed"
    problems = []
    for workload, pod in pod_specs(resources):
        for container in containers(pod):
            for name, item in container_env(resources, container).items():
                if SECRET_LIKE.search(name) and "value" in item:
                    problems.append(f"{workload['metadata']['name']}: {name} has a literal value")
    for configmap in of_kind(resources, "ConfigMap"):
        for key in configmap.get("data", {}):
            if SECRET_LIKE.search(key):
                problems.append(f"ConfigMap {configmap['metadata']['name']} holds {key}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_has_a_policy_v1_disruption_budget(overlay: str) -> None:
    resources = render(f"overlays/{overlay}")
    budgets = of_kind(resources, "PodDisruptionBudget")
    assert {b["apiVersion"] for b in budgets} == {"policy/v1"}
    for deployment in of_kind(resources, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        matching = [
            b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        ]
        assert len(matching) == 1, deployment["metadata"]["name"]
        spec = matching[0]["spec"]
        assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable", 0) >= 1


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_router_and_delivery_autoscale(overlay: str) -> None:
    resources = render(f"overlays/{overlay}")
    deployments = by_name(resources, "Deployment")
    scaled = {}
    for hpa in of_kind(resources, "HorizontalPodAutoscaler"):
        assert hpa["apiVersion"] == "autoscaling/v2"
        target = hpa["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        scaled[component_of(deployments[target["name"]])] = hpa
    assert set(scaled) == AUTOSCALED
    for component in AUTOSCALED:
        # the autoscaler owns the replica count: a fixed one would fight it on every apply
        assert "replicas" not in deployments[f"meldingshub-{component}"]["spec"]


def _selects(policy: Resource, pod_labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if not selector.get("matchLabels", {}).items() <= pod_labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        value = pod_labels.get(expression["key"])
        if expression["operator"] == "In" and value not in expression["values"]:
            return False
        if expression["operator"] == "NotIn" and value in expression["values"]:
            return False
    return True


def _egress_ports(policies: list[Resource], pod_labels: dict[str, str]) -> set[int]:
    return {
        port["port"]
        for policy in policies
        if _selects(policy, pod_labels)
        for rule in policy["spec"].get("egress", [])
        for port in rule.get("ports", [])
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_deny_by_default_and_allow_only_what_each_needs(overlay: str) -> None:
    resources = render(f"overlays/{overlay}")
    policies = of_kind(resources, "NetworkPolicy")
    deny = [
        p
        for p in policies
        if set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "no default-deny policy"
    for deployment in of_kind(resources, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        component = component_of(deployment)
        assert any(_selects(p, pod_labels) for p in deny), component
        egress = _egress_ports(policies, pod_labels)
        assert {53, 9093} <= egress, f"{component} cannot reach DNS and Kafka"
        # only delivery reaches receivers' endpoints; nothing else leaves the cluster
        assert bool(egress & {443, 5671, 5672}) == (component == "delivery"), component
        store_ref = container_env(
            resources, deployment["spec"]["template"]["spec"]["containers"][0]
        )
        assert ("MELDINGSHUB_STORE__DSN" in store_ref) == (5432 in egress), component


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_component_has_a_service_and_a_service_monitor_on_its_ops_port(overlay: str) -> None:
    resources = render(f"overlays/{overlay}")
    services = of_kind(resources, "Service")
    monitors = of_kind(resources, "ServiceMonitor")
    for deployment in of_kind(resources, "Deployment"):
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        (service,) = [s for s in services if s["spec"]["selector"].items() <= pod_labels.items()]
        assert "ops" in {p["name"] for p in service["spec"]["ports"]}
        service_labels = service["metadata"]["labels"]
        (monitor,) = [
            m
            for m in monitors
            if m["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
        ]
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["ops"]
        assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_production_runs_at_least_two_replicas_spread_over_nodes() -> None:
    resources = render("overlays/prod")
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in of_kind(resources, "HorizontalPodAutoscaler")
    }
    for deployment in of_kind(resources, "Deployment"):
        name = deployment["metadata"]["name"]
        replicas = (
            autoscalers[name]["spec"]["minReplicas"]
            if name in autoscalers
            else deployment["spec"].get("replicas", 1)
        )
        assert replicas >= 2, name
        anti = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        terms = [
            *anti.get("requiredDuringSchedulingIgnoredDuringExecution", []),
            *(
                t["podAffinityTerm"]
                for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
            ),
        ]
        own = deployment["spec"]["template"]["metadata"]["labels"]
        assert any(
            t["topologyKey"] == "kubernetes.io/hostname"
            and t["labelSelector"]["matchLabels"] == own
            for t in terms
        ), f"{name} has no anti-affinity to its own pods per node"


def test_production_requires_the_store_secret_and_development_does_not() -> None:
    for overlay, optional in (("prod", False), ("dev", True)):
        resources = render(f"overlays/{overlay}")
        for deployment in of_kind(resources, "Deployment"):
            env = container_env(resources, deployment["spec"]["template"]["spec"]["containers"][0])
            if "MELDINGSHUB_STORE__DSN" in env:
                ref = env["MELDINGSHUB_STORE__DSN"]["valueFrom"]["secretKeyRef"]
                assert ref["name"] == "meldingshub-store"
                assert ref.get("optional", False) is optional, (overlay, deployment["metadata"])


def test_namespaces_enforce_the_restricted_pod_security_standard() -> None:
    for overlay in OVERLAYS:
        (namespace,) = of_kind(render(f"overlays/{overlay}"), "Namespace")
        labels = namespace["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
