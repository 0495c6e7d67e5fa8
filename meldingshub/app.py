"""The application object: starts the broker (when embedded), topics, components and ops server.

One ``Hub`` per process. ``Hub.run`` returns when ``stop`` is set; a component
that fails is restarted with back-off by its :class:`~meldingshub.supervisor.Supervisor`
(and reported by ``/readyz`` meanwhile), so one bad input never ends the process.
It stops components first and the embedded broker last, so no transaction is cut
off by its own broker going away.
"""

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from hubcore.errors import MeldingshubError
from kafka_io import client_config, ensure_topics, wait_until_reachable
from meldingshub.embedded_broker import EmbeddedBroker
from meldingshub.ops_server import OpsServer
from meldingshub.settings import Settings
from meldingshub.supervisor import Supervisor
from metrics.components import ComponentMetrics
from metrics.embedded_broker import EmbeddedBrokerMetrics
from metrics.health import HealthMetrics

if TYPE_CHECKING:
    from meldingshub.wiring import Assembly

log = structlog.get_logger(__name__)

ComponentFactory = Callable[[str], "Assembly"]
"""Builds the process's components once the bootstrap servers are known."""


class ComponentFailedError(MeldingshubError):
    """A component ended the process (``SystemExit`` and the like, not an ordinary error)."""


class Hub:
    """Runs one hub process: its broker connection, components and ops endpoint."""

    def __init__(
        self,
        settings: Settings,
        components: ComponentFactory,
        registry: CollectorRegistry | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self._factory = components
        self.registry = registry or CollectorRegistry()
        self._ready_timeout_s = ready_timeout_s
        self.bootstrap_servers = settings.kafka.bootstrap_servers
        self.broker: EmbeddedBroker | None = None
        self.ready = threading.Event()
        self._failures: list[tuple[str, BaseException]] = []
        self.supervisors: dict[str, Supervisor] = {}

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set; raise :class:`ComponentFailedError` if a component died."""
        kafka = self.settings.kafka
        if kafka.embedded:
            self.broker = EmbeddedBroker(kafka.embedded_host, kafka.embedded_port)
            self.broker.start()
            self.bootstrap_servers = self.broker.bootstrap_servers
            EmbeddedBrokerMetrics(self.registry, memory=self.broker.memory_bytes)
        try:
            self._run_components(stop)
        finally:
            if self.broker is not None:
                self.broker.stop()
        if self._failures:
            name, error = self._failures[0]
            raise ComponentFailedError(f"component {name} failed: {error}")

    def _run_components(self, stop: threading.Event) -> None:
        kafka = self.settings.kafka
        config = client_config(kafka, self.bootstrap_servers)
        wait_until_reachable(config, kafka.connect_timeout_s)
        ensure_topics(config, kafka.topics.all())
        assembly = self._factory(self.bootstrap_servers)
        components = assembly.components
        admin = AdminClient({**config, "log_level": 0})
        metrics = ComponentMetrics(self.registry, [c.name for c in components])
        supervisors = [Supervisor(c, metrics) for c in components]
        self.supervisors = {s.component.name: s for s in supervisors}

        def broker_answers() -> bool:
            return bool(admin.list_topics(kafka.topics.inbound.name, timeout=2).brokers)

        HealthMetrics(
            self.registry,
            broker_answers,
            {label: self.supervisors[name].ready for label, name in assembly.adapters.items()},
        )
        ops = OpsServer(
            self.settings.http.ops_bind,
            self.registry,
            {"broker": broker_answers}
            | assembly.checks
            | {s.component.name: s.ready for s in supervisors},
        )
        ops.start()
        threads = [
            threading.Thread(target=s.run, args=(stop,), name=s.component.name, daemon=True)
            for s in supervisors
        ]
        for thread in threads:
            thread.start()
        try:
            self._announce_when_ready(ops, stop)
            stop.wait()
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=10)
            self._failures.extend(
                (s.component.name, s.fatal) for s in supervisors if s.fatal is not None
            )
            assembly.close()
            ops.stop()

    def _announce_when_ready(self, ops: OpsServer, stop: threading.Event) -> None:
        """Log ``hub ready`` once every check passes; warn (once) if that takes long."""
        warn_at = time.monotonic() + self._ready_timeout_s
        while not stop.is_set():
            failing = ops.failing_checks()
            if not failing:
                self.ready.set()
                log.info(
                    "hub ready",
                    bootstrap_servers=self.bootstrap_servers,
                    inbound=self.settings.kafka.topics.inbound.name,
                    outbound=self.settings.kafka.topics.outbound.name,
                    ops=ops.url,
                )
                return
            if time.monotonic() >= warn_at:
                log.warning("hub not ready yet", failing=failing)
                warn_at = float("inf")
            stop.wait(0.1)
