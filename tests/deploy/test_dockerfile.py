"""The Dockerfile, checked without a Docker engine: pinned bases, a non-root user
matching the pods' runAsUser, no secrets, a build context that holds what the
wheel needs, and an entrypoint the built wheel really provides."""

import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.manifests import containers, of_kind, pod_specs, render
from tests.deploy.test_contract import field_of
from tests.support.shared import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
PINNED = re.compile(r"^[\w./-]+(:(?P<tag>[\w.-]+))?(@sha256:(?P<digest>[0-9a-f]{64}))?$")
VERSION_TAG = re.compile(r"^\d+\.\d+\.\d+")
SECRET_LIKE = re.compile(r"PASSWORD|SECRET|TOKEN|DSN|CREDENTIAL|PRIVATE|API_KEY", re.IGNORECASE)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


def instructions() -> list[Instruction]:
    """The Dockerfile's instructions, with continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    parsed = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        parsed.append(Instruction(keyword.upper(), arguments.strip()))
    return parsed


def stages() -> list[list[Instruction]]:
    """Instructions grouped by build stage (each starts with FROM)."""
    grouped: list[list[Instruction]] = []
    for instruction in instructions():
        if instruction.keyword == "FROM":
            grouped.append([])
        elif not grouped:
            assert instruction.keyword == "ARG", "only ARG may precede the first FROM"
            continue
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', instruction.arguments):
                env[name] = value.strip('"')
    return env


def exec_form(instruction: Instruction) -> list[str]:
    import json

    value = json.loads(instruction.arguments)
    assert isinstance(value, list), f"{instruction.keyword} must use the exec (JSON) form"
    return [str(v) for v in value]


def last(stage: list[Instruction], keyword: str) -> Instruction:
    matching = [i for i in stage if i.keyword == keyword]
    assert matching, f"the runtime stage has no {keyword}"
    return matching[-1]


def test_multi_stage_with_pinned_base_images() -> None:
    froms = [i.arguments.split() for i in instructions() if i.keyword == "FROM"]
    assert len(froms) >= 2, "build and runtime stages"
    for words in froms:
        image = words[0]
        match = PINNED.match(image)
        assert match, image
        tag, digest = match["tag"], match["digest"]
        assert digest or (tag and VERSION_TAG.match(tag)), f"{image} is not pinned"
        assert "latest" not in image
    runtime = stages()[-1]
    copies = [i.arguments for i in runtime if i.keyword == "COPY"]
    assert any(c.startswith("--from=build ") for c in copies), "runtime takes the build's output"
    assert not any(i.keyword == "COPY" and not i.arguments.startswith("--from") for i in runtime), (
        "the runtime stage copies nothing from the build context (no source tree)"
    )


def test_runtime_runs_as_the_non_root_user_the_pods_expect() -> None:
    user = last(stages()[-1], "USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "a numeric uid lets Kubernetes verify runAsNonRoot"
    assert not gid or (gid.isdigit() and int(gid) != 0)
    for overlay in ("overlays/prod", "jobs/register-import"):
        for _, pod in pod_specs(render(overlay)):
            assert pod["securityContext"]["runAsUser"] == int(uid)
            if gid:
                assert pod["securityContext"]["runAsGroup"] == int(gid)


def test_no_secrets_in_the_image() -> None:
    for stage in stages():
        for name in env_of(stage):
            assert not SECRET_LIKE.search(name), f"ENV {name}"
        for instruction in stage:
            if instruction.keyword == "ARG":
                assert not SECRET_LIKE.search(instruction.arguments), instruction
            if instruction.keyword in ("COPY", "ADD"):
                assert not re.search(r"\.env\b|\.pem|\.key|credentials", instruction.arguments)
                assert instruction.keyword == "COPY", "ADD fetches URLs and unpacks archives"


def test_container_settings_match_the_settings_model_and_the_manifests() -> None:
    runtime = stages()[-1]
    env = {k: v for k, v in env_of(runtime).items() if k.startswith("MELDINGSHUB_")}
    unknown = [name for name in env if field_of(name) is None]
    assert not unknown, f"not settings: {unknown}"
    assert env["MELDINGSHUB_HTTP__API_BIND"].startswith("0.0.0.0:")
    assert env["MELDINGSHUB_HTTP__OPS_BIND"].startswith("0.0.0.0:")
    volume = last(runtime, "VOLUME")
    assert exec_form(volume) == [env["MELDINGSHUB_DATA_DIR"]]
    exposed = {int(p.split("/")[0]) for p in last(runtime, "EXPOSE").arguments.split()}
    ports = {
        int(env[name].rpartition(":")[2])
        for name in ("MELDINGSHUB_HTTP__API_BIND", "MELDINGSHUB_HTTP__OPS_BIND")
    }
    assert exposed == ports
    for deployment in of_kind(render("overlays/prod"), "Deployment"):
        for container in containers(deployment["spec"]["template"]["spec"]):
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert env["MELDINGSHUB_DATA_DIR"] in mounts
            assert {p["containerPort"] for p in container["ports"]} <= ports


def test_healthcheck_asks_the_liveness_endpoint_on_the_ops_port() -> None:
    runtime = stages()[-1]
    check = last(runtime, "HEALTHCHECK").arguments
    ops_port = env_of(runtime)["MELDINGSHUB_HTTP__OPS_BIND"].rpartition(":")[2]
    assert f"127.0.0.1:{ops_port}/livez" in check


def test_entrypoint_is_the_console_script_with_the_component_as_argument() -> None:
    runtime = stages()[-1]
    entrypoint = exec_form(last(runtime, "ENTRYPOINT"))
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert len(entrypoint) == 1 and Path(entrypoint[0]).name in scripts
    assert exec_form(last(runtime, "CMD")) == ["run"]
    for deployment in of_kind(render("overlays/prod"), "Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "command" not in container, "pods keep the image's entrypoint"
        assert container["args"][0] == "run" and len(container["args"]) == 2


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, body) or fnmatch.fnmatch(path, body.removeprefix("**/")):
            ignored = not negated
    return ignored


def build_sources() -> list[str]:
    """What the build stage copies from the context (``COPY src... dest``)."""
    sources = []
    for instruction in stages()[0]:
        if instruction.keyword == "COPY" and not instruction.arguments.startswith("--"):
            sources += [s.rstrip("/") for s in instruction.arguments.split()[:-1]]
    return sources


def test_build_context_holds_every_package_and_nothing_else() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "the context is an allowlist"
    sources = build_sources()
    for source in sources:
        assert not _ignored(source, patterns), f"{source} is copied but ignored"
    for private in (".venv", ".git", "tests", "var", "deploy", "bench", ".env"):
        assert _ignored(private, patterns), private
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    packages = {p.rstrip("*") for p in setuptools["packages"]["find"]["include"]}
    assert packages <= set(sources), f"the wheel needs {sorted(packages - set(sources))}"


def test_the_wheel_built_from_the_build_context_provides_the_entrypoint(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for source in build_sources():
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, context / source)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"),
            *("--wheel-dir", str(tmp_path / "dist"), str(context)),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 and "bdist_wheel" in result.stderr:
        pytest.fail("install the dev extra (setuptools, wheel) to build the wheel offline")
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp_path / "dist").glob("meldingshub-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    script = Path(exec_form(last(stages()[-1], "ENTRYPOINT"))[0]).name
    match = re.search(rf"^{re.escape(script)}\s*=\s*([\w.]+):(\w+)$", text, re.MULTILINE)
    assert match, f"no console script {script} in the wheel"
    module = match[1].replace(".", "/")
    assert {f"{module}.py", f"{module}/__init__.py"} & names, f"{match[1]} is not in the wheel"
    assert "meldingshub/py.typed" in names
