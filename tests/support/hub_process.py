"""A ``meldingshub run`` child process with its JSON log lines, for tests of a running hub."""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from meldingshub.embedded_broker import free_port

MELDINGSHUB = str(Path(sys.executable).with_name("meldingshub"))


class HubProcess:
    """A `meldingshub run` child with its JSON log lines collected in a queue."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.cwd = tmp_path
        self.port = free_port()
        full_env = {
            **os.environ,
            "MELDINGSHUB_KAFKA__EMBEDDED_PORT": str(self.port),
            "MELDINGSHUB_HTTP__OPS_BIND": f"127.0.0.1:{free_port()}",
            "MELDINGSHUB_DATA_DIR": str(tmp_path),
            "MELDINGSHUB_LOG__FORMAT": "json",
            **env,
        }
        full_env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        self.env = full_env
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [MELDINGSHUB, "run"],
            env=full_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("{"):
                self.lines.put(json.loads(line))

    def wait_for(self, event: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                record = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if record.get("event") == event:
                return record
        raise AssertionError(f"no {event!r} log line within {timeout_s} s")
