"""An HTTP API component: one FastAPI app served by uvicorn in a thread, stopped on request."""

import asyncio
import threading

import structlog
import uvicorn
from fastapi import FastAPI

log = structlog.get_logger(__name__)


class ApiServer:
    """Serves ``app`` on ``bind`` (``host:port``) until stopped."""

    def __init__(self, name: str, app: FastAPI, bind: str) -> None:
        self.name = name
        host, _, port = bind.rpartition(":")
        self._config = uvicorn.Config(
            app,
            host=host,
            port=int(port),
            log_level="warning",
            # uvicorn's own handlers would print its tracebacks past the masking chain.
            log_config=None,
            access_log=False,
            lifespan="off",
        )
        self._server: uvicorn.Server | None = None
        self.url = f"http://{host}:{port}"

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set; each run has its own server (a stopped one stays
        stopped), so the supervisor and the embedded broker's checkpoints can run it again."""
        server = self._server = uvicorn.Server(self._config)
        watcher = threading.Thread(target=self._stop_when, args=(stop, server), daemon=True)
        watcher.start()
        log.info("api listening", url=self.url)
        asyncio.run(server.serve())

    @staticmethod
    def _stop_when(stop: threading.Event, server: uvicorn.Server) -> None:
        stop.wait()
        server.should_exit = True

    def ready(self) -> bool:
        """Ready once uvicorn has bound its socket."""
        return self._server is not None and bool(self._server.started)
