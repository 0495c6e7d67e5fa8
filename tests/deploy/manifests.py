"""Renders the kustomize trees under ``deploy/k8s`` and picks resources out of them.

Rendering uses a real kustomize (``kustomize build`` or ``kubectl kustomize``),
so the tests see exactly what ``kubectl apply -k`` would apply. Without one the
tests skip locally and fail in CI, where a silent skip would hide broken manifests.
"""

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.shared import REPO

K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
JOB_TREES = ("jobs/register-import",)

Resource = dict[str, Any]


def kustomize_command() -> list[str] | None:
    """The kustomize on this machine, standalone or built into kubectl."""
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render_tree(path: Path) -> list[Resource]:
    """Render the kustomization at ``path`` with the real kustomize."""
    command = kustomize_command()
    if command is None:
        message = "no kustomize: install kubectl (or kustomize) to validate deploy/k8s"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [*command, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"kustomize failed on {path}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@functools.cache
def _cached(relative: str) -> tuple[Resource, ...]:
    return tuple(render_tree(K8S / relative))


def render(relative: str) -> list[Resource]:
    """The rendered resources of ``deploy/k8s/<relative>`` (a fresh copy each call)."""
    return yaml.safe_load(yaml.safe_dump(list(_cached(relative))))  # type: ignore[no-any-return]


def of_kind(resources: list[Resource], kind: str) -> list[Resource]:
    """The resources of one kind."""
    return [r for r in resources if r["kind"] == kind]


def by_name(resources: list[Resource], kind: str) -> dict[str, Resource]:
    """The resources of one kind keyed by name."""
    return {r["metadata"]["name"]: r for r in of_kind(resources, kind)}


def component_of(resource: Resource) -> str:
    """The ``app.kubernetes.io/component`` label of a resource."""
    return str(resource["metadata"]["labels"]["app.kubernetes.io/component"])


def pod_specs(resources: list[Resource]) -> Iterator[tuple[Resource, Resource]]:
    """Each workload (Deployment, Job) with its pod spec."""
    for resource in resources:
        if resource["kind"] in ("Deployment", "Job"):
            yield resource, resource["spec"]["template"]["spec"]


def containers(pod_spec: Resource) -> list[Resource]:
    """Init and app containers of a pod spec."""
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def container_env(resources: list[Resource], container: Resource) -> dict[str, Resource]:
    """A container's environment: ConfigMap entries (as values) overlaid by its ``env``."""
    configmaps = by_name(resources, "ConfigMap")
    env: dict[str, Resource] = {}
    for source in container.get("envFrom", []):
        data = configmaps[source["configMapRef"]["name"]]["data"]
        env.update({name: {"name": name, "value": value} for name, value in data.items()})
    env.update({item["name"]: item for item in container.get("env", [])})
    return env
