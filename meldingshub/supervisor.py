"""Runs one component in its thread and restarts it with back-off when it fails.

A component failing (a bug, a lost connection nobody handled) used to end the
whole process, and with a poison input the restarted process died again on the
same input: a crash loop that stopped every other component too. Here only the
failed component waits and starts again; ``/readyz`` names it while it is down
and ``meldingshub_component_up`` / ``meldingshub_component_restarts_total`` show it.
"""

import threading
import time

import structlog

from hubcore.errors import describe
from meldingshub.components import Component
from metrics.components import ComponentMetrics

log = structlog.get_logger(__name__)

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 60.0
STABLE_AFTER_S = 60.0
"""A run this long counts as healthy: the next failure starts the back-off afresh."""


class Supervisor:
    """Runs ``component`` until ``stop`` is set, restarting it after failures."""

    def __init__(
        self,
        component: Component,
        metrics: ComponentMetrics,
        initial_backoff_s: float = INITIAL_BACKOFF_S,
        max_backoff_s: float = MAX_BACKOFF_S,
    ) -> None:
        self.component = component
        self._metrics = metrics
        self._initial_s = initial_backoff_s
        self._max_s = max_backoff_s
        self._running = threading.Event()
        self.restarts = 0
        self.fatal: BaseException | None = None
        """What ended the component for good (a ``BaseException`` that is not an ``Exception``)."""

    def ready(self) -> bool:
        """False while the component waits to be restarted; else what the component says."""
        return self._running.is_set() and self.component.ready()

    def run(self, stop: threading.Event) -> None:
        """Run and restart until ``stop``; a ``SystemExit`` or the like sets ``stop``."""
        name = self.component.name
        structlog.contextvars.bind_contextvars(component=name)
        backoff = self._initial_s
        while not stop.is_set():
            started = time.monotonic()
            self._running.set()
            self._metrics.up.labels(name).set(1)
            try:
                self.component.run(stop)
                return
            except Exception as exc:
                if time.monotonic() - started >= STABLE_AFTER_S:
                    backoff = self._initial_s
                log.error(
                    "component failed; restarting",
                    failed_component=name,
                    error=describe(exc),
                    retry_in_s=backoff,
                )
            except BaseException as exc:
                log.error(
                    "component stopped the process", failed_component=name, error=describe(exc)
                )
                self.fatal = exc
                stop.set()
                return
            finally:
                self._running.clear()
                self._metrics.up.labels(name).set(0)
            self.restarts += 1
            self._metrics.restarts.labels(name).inc()
            stop.wait(backoff)
            backoff = min(backoff * 2, self._max_s)
