"""`meldingshub run` as `make run` starts it: traffic shows within 60 s, Ctrl-C stops it."""

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from meldingshub.embedded_broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MELDINGSHUB = str(Path(sys.executable).with_name("meldingshub"))


def start(
    tmp_path: Path, *args: str
) -> tuple[subprocess.Popen[str], "queue.Queue[dict[str, Any]]"]:
    """A fresh `meldingshub run` (no register, no store) on free ports, stdout not a terminal."""
    env = {
        **os.environ,
        "MELDINGSHUB_KAFKA__EMBEDDED_PORT": str(free_port()),
        "MELDINGSHUB_HTTP__API_BIND": f"127.0.0.1:{free_port()}",
        "MELDINGSHUB_HTTP__OPS_BIND": f"127.0.0.1:{free_port()}",
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
    started = time.monotonic()
    process, lines = start(tmp_path)
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
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0
        wait_for(lines, "simulated stream stopped", 5, lambda r: r.get("sent", 0) > 0)
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
