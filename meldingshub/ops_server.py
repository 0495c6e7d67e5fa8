"""The operations endpoint every hub process serves: ``/metrics``, ``/livez``, ``/readyz``.

Liveness is process health only; readiness asks each registered check (broker
reachable, register loaded, store reachable) and answers 503 naming the ones
that fail.
"""

import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

ReadinessCheck = Callable[[], bool]


class OpsServer:
    """A small threaded HTTP server for probes and Prometheus scrapes."""

    def __init__(
        self,
        bind: str,
        registry: CollectorRegistry,
        checks: Mapping[str, ReadinessCheck] | None = None,
    ) -> None:
        host, _, port = bind.rpartition(":")
        self._registry = registry
        self.checks: dict[str, ReadinessCheck] = dict(checks or {})
        self._server = ThreadingHTTPServer((host, int(port)), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ops-http", daemon=True
        )

    @property
    def url(self) -> str:
        """Base URL, with the port actually bound (useful when binding port 0)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def failing_checks(self) -> list[str]:
        """Names of readiness checks that fail (an exception counts as failing)."""
        failing = []
        for name, check in self.checks.items():
            try:
                ok = check()
            except Exception:
                ok = False
            if not ok:
                failing.append(name)
        return failing

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        ops = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(ops._registry), CONTENT_TYPE_LATEST)
                elif path == "/livez":
                    self._send(200, b"ok\n")
                elif path == "/readyz":
                    failing = ops.failing_checks()
                    if failing:
                        self._send(503, ("not ready: " + ", ".join(failing) + "\n").encode())
                    else:
                        self._send(200, b"ready\n")
                else:
                    self._send(404, b"not found\n")

            def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return  # probes every few seconds would drown the log

        return Handler
