"""The embedded broker's memory and checkpoints reach /metrics and the live view, and what it
keeps across a stop is said."""

import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from meldingshub.cli.live_view import broker_line, plain_line, read_snapshot
from meldingshub.embedded_broker import CHECKPOINTED, EmbeddedBroker, free_port
from meldingshub.embedded_process import children, command_name, rss_bytes
from metrics.embedded_broker import CHECKPOINTS, MEMORY, STORAGE, EmbeddedBrokerMetrics
from tests.support.hub_process import HubProcess


def test_memory_is_read_when_scraped() -> None:
    figures = {"memory": 10, "checkpoints": 0, "storage": 0}
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(
        registry,
        memory=lambda: figures["memory"],
        checkpoints=lambda: figures["checkpoints"],
        storage=lambda: figures["storage"],
    )
    assert registry.get_sample_value(MEMORY) == 10
    assert registry.get_sample_value(STORAGE) == 0
    assert registry.get_sample_value(f"{CHECKPOINTS}_total") == 0
    figures["memory"], figures["checkpoints"], figures["storage"] = 11, 2, 4096
    assert registry.get_sample_value(MEMORY) == 11
    assert registry.get_sample_value(STORAGE) == 4096
    assert registry.get_sample_value(f"{CHECKPOINTS}_total") == 2


def test_the_view_shows_memory_checkpoints_and_what_is_kept() -> None:
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(
        registry, memory=lambda: 50 * 2**20, checkpoints=lambda: 3, storage=lambda: 7 * 2**20
    )
    snapshot = read_snapshot(registry)
    assert snapshot.broker is not None
    line = broker_line(snapshot.broker)
    assert line.startswith("embedded broker 50 MiB, on disk 7 MiB, checkpoints 3 (records in ")
    assert "windows kept on disk" in line
    assert "a crash loses what it held" in line
    assert plain_line(snapshot, 0.0)["broker"] == line


def test_the_readme_says_what_the_embedded_broker_keeps() -> None:
    """The start-up log, the live view and the README say the same."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert CHECKPOINTED in " ".join(readme.split())


def test_a_stopped_broker_has_no_memory_sample() -> None:
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(
        registry, memory=lambda: None, checkpoints=lambda: 0, storage=lambda: None
    )
    assert registry.get_sample_value(MEMORY) is None
    snapshot = read_snapshot(registry)
    assert snapshot.broker is not None
    assert broker_line(snapshot.broker).startswith("embedded broker –, on disk –, checkpoints 0")


def test_without_an_embedded_broker_the_view_has_no_broker_line() -> None:
    snapshot = read_snapshot(CollectorRegistry())
    assert snapshot.broker is None
    assert "broker" not in plain_line(snapshot, 0.0)


def test_exposition_is_prometheus_text() -> None:
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(registry, memory=lambda: 1, checkpoints=lambda: 4, storage=lambda: 5)
    text = generate_latest(registry).decode()
    assert f"# TYPE {MEMORY} gauge\n{MEMORY} 1.0\n" in text
    assert f"# TYPE {STORAGE} gauge\n{STORAGE} 5.0\n" in text
    assert f"# TYPE {CHECKPOINTS}_total counter\n{CHECKPOINTS}_total 4.0\n" in text


def test_promtool_accepts_the_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); CI has it")
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(registry, memory=lambda: 1, checkpoints=lambda: 2, storage=lambda: 3)
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=generate_latest(registry),
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert not result.stdout.strip(), result.stdout.decode()


def test_process_memory_and_children_are_read_from_proc() -> None:
    assert (rss_bytes(os.getpid()) or 0) > 10 * 2**20  # a Python with pytest loaded
    assert rss_bytes(None) is None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in children(os.getpid())
        assert command_name(child.pid).startswith("python")
    finally:
        child.kill()
        child.wait()
    assert rss_bytes(child.pid) is None


@pytest.mark.integration
def test_broker_memory_is_measured() -> None:
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    try:
        assert (broker.memory_bytes() or 0) > 1 * 2**20
    finally:
        broker.stop()
    assert broker.memory_bytes() is None


def _scrape(ops_bind: str) -> str:
    with urllib.request.urlopen(f"http://{ops_bind}/metrics", timeout=5) as answer:
        return str(answer.read().decode())


def _sample(exposition: str, name: str) -> float | None:
    for line in exposition.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return None


@pytest.mark.integration
@pytest.mark.slow
def test_a_running_hub_says_what_it_keeps_and_serves_the_brokers_memory(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path)
    try:
        broker_pid = hub.wait_for("embedded broker ready", 30)["pid"]
        said = hub.wait_for(CHECKPOINTED, 10)
        assert said["checkpoint_mb"] == 192
        hub.wait_for("hub ready", 60)
        exposition = _scrape(hub.env["MELDINGSHUB_HTTP__OPS_BIND"])
        served = _sample(exposition, MEMORY)
        measured = rss_bytes(broker_pid)
        assert served is not None and measured is not None
        # The same process's resident memory, read a moment apart: close, and not the hub's.
        assert 0.5 * measured < served < 2 * measured
        assert served < (rss_bytes(hub.process.pid) or 0)
        assert _sample(exposition, f"{CHECKPOINTS}_total") == 0
    finally:
        hub.process.kill()
        hub.process.wait()
