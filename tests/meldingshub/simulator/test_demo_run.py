"""`meldingshub run` as `make run` starts it: traffic shows within 60 s, Ctrl-C stops it."""

import contextlib
import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException
from confluent_kafka.admin import AdminClient
from prometheus_client.parser import text_string_to_metric_families

from meldingshub.embedded_broker import free_port
from meldingshub.simulator.receivers import GROUP_ID as RECEIVERS_GROUP
from meldingshub.simulator.receivers import MAILBOX_GRACE

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MELDINGSHUB = str(Path(sys.executable).with_name("meldingshub"))


def start(
    tmp_path: Path, *args: str, ops_port: int | None = None, broker_port: int | None = None
) -> tuple[subprocess.Popen[str], "queue.Queue[dict[str, Any]]"]:
    """A fresh `meldingshub run` (no register, no store) on free ports, stdout not a terminal."""
    env = {
        **os.environ,
        "MELDINGSHUB_KAFKA__EMBEDDED_PORT": str(broker_port or free_port()),
        "MELDINGSHUB_HTTP__API_BIND": f"127.0.0.1:{free_port()}",
        "MELDINGSHUB_HTTP__OPS_BIND": f"127.0.0.1:{ops_port or free_port()}",
        "MELDINGSHUB_DATA_DIR": str(tmp_path / "var"),
        "MELDINGSHUB_LOG__FORMAT": "json",
    }
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS"):
        env.pop(name, None)
    process = subprocess.Popen(
        [MELDINGSHUB, "run", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("{"):
                lines.put(json.loads(line))

    threading.Thread(target=read, daemon=True).start()
    return process, lines


def wait_for(
    lines: "queue.Queue[dict[str, Any]]", event: str, timeout_s: float, when: Any = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    seen: list[str] = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            record = lines.get(timeout=left)
        except queue.Empty:
            break
        if record.get("event") == event and (when is None or when(record)):
            return record
        seen.append(str(record.get("event")))
    raise AssertionError(f"no {event!r} log line within {timeout_s} s; saw {seen[-15:]}")


def test_make_run_shows_simulated_traffic_within_60_s_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    """And the demo's receivers are on this machine and take what they get: no delivery of
    the simulated stream waits for a retry, and every kind of theirs has taken some."""
    started = time.monotonic()
    ops_port, broker_port = free_port(), free_port()
    process, lines = start(tmp_path, ops_port=ops_port, broker_port=broker_port)
    try:
        traffic = wait_for(
            lines,
            "traffic",
            60,
            lambda r: sum(r["routed"].values()) > 0 and r["msg_per_s"] > 0,
        )
        assert time.monotonic() - started < 60
        assert set(traffic["routed"]) & {"eresept", "basis", "other"}
        assert (tmp_path / "var" / "national-register.json").is_file()

        # Mailbox messages are taken once they have waited MAILBOX_GRACE.
        deadline = time.monotonic() + 90 + MAILBOX_GRACE.total_seconds()
        deliveries: dict[tuple[str, str], float] = {}
        store = tmp_path / "var" / "meldingshub.sqlite3"
        while time.monotonic() < deadline:
            deliveries = _deliveries(ops_port)
            enough = sum(n for (_, o), n in deliveries.items() if o == "delivered") >= 100
            if enough and _receivers_committed(broker_port) and _read_in_mailbox(store):
                break
            time.sleep(1)  # polling a running hub's counters, not waiting out a race
        assert _receivers_committed(broker_port)  # what they read, the checkpoint drops
        delivered = {k for (k, o), n in deliveries.items() if o == "delivered" and n}
        assert delivered == {"kafka", "mailbox", "file"}, deliveries
        assert not {key: n for key, n in deliveries.items() if key[1] != "delivered" and n}

        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
        events: list[dict[str, Any]] = []
        while not events or events[-1].get("event") != "embedded broker stopped":
            events.append(lines.get(timeout=5))  # up to the hub's last line
        stopped = {e["event"]: e for e in events if str(e.get("event")).endswith(" stopped")}
        assert stopped["simulated stream stopped"].get("sent", 0) > 0
        taken = stopped["simulated receivers stopped"]["taken"]
        assert all(taken.get(kind, 0) > 0 for kind in ("kafka", "mailbox", "file")), taken
        assert not [
            p for p in (tmp_path / "var" / "outbox").glob("**/*.xml")
            if p.stat().st_mtime < time.time() - 10
        ]  # fmt: skip
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_no_simulate_runs_the_hub_alone(tmp_path: Path) -> None:
    process, lines = start(tmp_path, "--no-simulate")
    try:
        wait_for(lines, "hub ready", 60)
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
        events: list[str | None] = []
        while events[-1:] != ["embedded broker stopped"]:  # the hub's last line
            events.append(lines.get(timeout=5).get("event"))
        assert "simulated stream started" not in events and "traffic" not in events
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _deliveries(ops_port: int) -> dict[tuple[str, str], float]:
    """``(endpoint kind, outcome) -> count`` from the hub's /metrics (none while it starts)."""
    try:
        text = httpx.get(f"http://127.0.0.1:{ops_port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return {}
    return {
        (sample.labels["endpoint_kind"], sample.labels["outcome"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "meldingshub_deliveries"
        for sample in family.samples
        if sample.name == "meldingshub_deliveries_total"
    }


def _read_in_mailbox(store: Path) -> bool:
    """Some mailbox message has been marked read (by the demo's receivers)."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT 1 FROM mailbox_messages WHERE read_at IS NOT NULL LIMIT 1")
            return row.fetchone() is not None
    except sqlite3.Error:
        return False  # not created yet


def _receivers_committed(broker_port: int) -> bool:
    """The demo receivers' group has committed an offset on some receiver topic."""
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{broker_port}"})
    wanted = ConsumerGroupTopicPartitions(RECEIVERS_GROUP)
    try:
        found = next(iter(admin.list_consumer_group_offsets([wanted]).values())).result(10)
    except KafkaException:
        return False
    return any(tp.offset > 0 for tp in found.topic_partitions or [])
