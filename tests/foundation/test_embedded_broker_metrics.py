"""The embedded broker's memory and disk reach /metrics and the live view; memory-only is said."""

import os
import subprocess
import sys

from prometheus_client import CollectorRegistry, generate_latest

from meldingshub.cli.live_view import broker_line, plain_line, read_snapshot
from meldingshub.embedded_broker import MEMORY_ONLY
from meldingshub.embedded_process import children, command_name, rss_bytes
from metrics.embedded_broker import EmbeddedBrokerMetrics


def _registry(durable: bool, storage: int | None, disk: int | None) -> CollectorRegistry:
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(
        registry,
        durable=durable,
        broker_memory=lambda: 50 * 2**20,
        storage_memory=lambda: storage,
        storage_bytes=lambda: disk,
    )
    return registry


def test_gauges_read_the_figures_when_scraped() -> None:
    figures = {"broker": 10, "disk": 7}
    registry = CollectorRegistry()
    EmbeddedBrokerMetrics(
        registry,
        durable=True,
        broker_memory=lambda: figures["broker"],
        storage_memory=lambda: 20,
        storage_bytes=lambda: figures["disk"],
    )
    memory = "meldingshub_embedded_broker_memory_bytes"
    assert registry.get_sample_value(memory, {"process": "broker"}) == 10
    assert registry.get_sample_value(memory, {"process": "storage"}) == 20
    assert registry.get_sample_value("meldingshub_embedded_broker_storage_bytes") == 7
    assert registry.get_sample_value("meldingshub_embedded_broker_durable") == 1
    figures.update(broker=11, disk=9)
    assert registry.get_sample_value(memory, {"process": "broker"}) == 11
    assert registry.get_sample_value("meldingshub_embedded_broker_storage_bytes") == 9


def test_memory_only_broker_has_no_storage_series_and_says_so() -> None:
    registry = _registry(durable=False, storage=None, disk=None)
    assert registry.get_sample_value("meldingshub_embedded_broker_durable") == 0
    assert registry.get_sample_value("meldingshub_embedded_broker_storage_bytes") is None
    memory = "meldingshub_embedded_broker_memory_bytes"
    assert registry.get_sample_value(memory, {"process": "storage"}) is None
    snapshot = read_snapshot(registry)
    assert snapshot.broker is not None
    line = broker_line(snapshot.broker)
    assert line.startswith("embedded broker 50 MiB")
    assert line.endswith(MEMORY_ONLY)
    assert plain_line(snapshot, 0.0)["broker"] == line


def test_live_view_shows_memory_and_disk_of_a_durable_broker() -> None:
    registry = _registry(durable=True, storage=120 * 2**20, disk=3 * 2**30)
    snapshot = read_snapshot(registry)
    assert snapshot.broker is not None
    assert broker_line(snapshot.broker) == (
        "embedded broker 50 MiB, store 120 MiB, on disk 3 072 MiB"
    )


def test_no_embedded_broker_no_line() -> None:
    snapshot = read_snapshot(CollectorRegistry())
    assert snapshot.broker is None
    assert "broker" not in plain_line(snapshot, 0.0)


def test_exposition_is_valid_prometheus_text() -> None:
    text = generate_latest(_registry(durable=True, storage=1, disk=2)).decode()
    assert "# TYPE meldingshub_embedded_broker_memory_bytes gauge" in text
    assert 'meldingshub_embedded_broker_memory_bytes{process="storage"} 1.0' in text


def test_process_memory_is_read_from_proc() -> None:
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
