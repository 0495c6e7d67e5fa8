"""Serving the look-up app with uvicorn, in a background thread or in the foreground."""

import threading
import time

import uvicorn
from fastapi import FastAPI

from addressregister.errors import RegisterError


class ApiServer:
    """A uvicorn server for ``app`` on ``host:port`` in a daemon thread (port 0: any free one)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="register-api", daemon=True)

    @property
    def url(self) -> str:
        """Base URL with the bound port (valid after :meth:`start`)."""
        sockets = [s for server in self._server.servers for s in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout_s: float = 10.0) -> "ApiServer":
        """Start serving and wait until the socket is bound."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() >= deadline:
                raise RegisterError(f"look-up API did not start within {timeout_s:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for it."""
        self._server.should_exit = True
        self._thread.join(timeout_s)

    def __enter__(self) -> "ApiServer":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
