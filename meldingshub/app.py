"""The application object: starts the broker (when embedded), topics, components and ops server.

One ``Hub`` per process. ``Hub.run`` returns when ``stop`` is set; a component
that fails is restarted with back-off by its :class:`~meldingshub.supervisor.Supervisor`
(and reported by ``/readyz`` meanwhile), so one bad input never ends the process.
It stops components first and the embedded broker last, so no transaction is cut
off by its own broker going away.

With the embedded broker, which frees no memory while it runs, the hub checkpoints it
(:mod:`meldingshub.broker_checkpoint`): when the broker reaches
``kafka.embedded_checkpoint_mb`` every component stops, what is still needed goes to disk,
the broker restarts with only that and the components start again; at a stop the
checkpoint stays on disk and the next start restores it. What is read from the start only
(the router's windows, delivery status) is restored into a cold store on disk
(:mod:`meldingshub.cold_store`), not into the broker.
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry

from hubcore.errors import MeldingshubError, describe
from kafka_io import client_config, ensure_topics, wait_until_reachable
from meldingshub import broker_checkpoint
from meldingshub.cold_store import ColdStore, cold_store, cold_topics
from meldingshub.embedded_broker import CHECKPOINTED, EmbeddedBroker
from meldingshub.embedded_process import release_free_memory
from meldingshub.ops_server import OpsServer
from meldingshub.settings import Settings
from meldingshub.supervisor import Supervisor
from metrics.components import ComponentMetrics
from metrics.embedded_broker import EmbeddedBrokerMetrics
from metrics.health import HealthMetrics

if TYPE_CHECKING:
    from meldingshub.wiring import Assembly

log = structlog.get_logger(__name__)

_CHECK_EVERY_S = 2.0
"""How often the embedded broker's memory is compared with its checkpoint size."""
_CHECK_MIN_S = 60.0
"""Least time between checkpoints once what must be kept fills half the checkpoint size."""

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
        self.checkpoints = 0
        """Checkpoints of the embedded broker taken while running (not counting the stop)."""
        self._last_checkpoint = time.monotonic()
        self._kept_bytes = 0
        """What the kept records cost the broker after the last restore (above empty)."""
        self._empty_bytes = 0
        """The broker's memory when it started empty."""
        self._paused_since: float | None = None
        """When the components were last stopped for a checkpoint."""
        self._broker_whole = True
        """False between a broker restart and the restore: never checkpoint a partial broker."""

    @property
    def checkpoint_path(self) -> Path:
        """Where the embedded broker's checkpoint is kept between a stop and the next start."""
        return self.settings.embedded_broker_dir / "checkpoint.sqlite"

    @property
    def cold_store(self) -> ColdStore:
        """The cold topics' records restored off the embedded broker."""
        return cold_store(self.settings)

    def run(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set; raise :class:`ComponentFailedError` if a component died."""
        kafka = self.settings.kafka
        if kafka.embedded:
            self.broker = EmbeddedBroker(kafka.embedded_host, kafka.embedded_port)
            self.broker.start()
            self.bootstrap_servers = self.broker.bootstrap_servers
            self._empty_bytes = self.broker.memory_bytes() or 0
            log.info(CHECKPOINTED, checkpoint_mb=kafka.embedded_checkpoint_mb)
            if not self.checkpoint_path.is_file() and self.cold_store.forget():
                # Its offsets are those of a broker that ended without a checkpoint (a crash).
                log.warning("embedded broker's cold store dropped: the broker it belonged to "
                            "ended without a checkpoint")  # fmt: skip
            self._restore()
            EmbeddedBrokerMetrics(
                self.registry,
                memory=self.broker.memory_bytes,
                checkpoints=lambda: self.checkpoints,
                storage=lambda: self.cold_store.size_bytes(),
            )
        try:
            self._run_components(stop)
        finally:
            if self.broker is not None:
                try:
                    # However the run ended (also before any component ran): the restore
                    # removed the checkpoint, so what the broker holds goes back to disk.
                    if self._broker_whole:
                        self._save_checkpoint()
                finally:
                    # Saved (or beyond saving): nothing in it is worth a grace period.
                    self.broker.stop(grace_s=0)
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
        try:
            while True:
                running = threading.Event()
                threads = [
                    threading.Thread(
                        target=s.run, args=(running,), name=s.component.name, daemon=True
                    )
                    for s in supervisors
                ]
                for thread in threads:
                    thread.start()
                try:
                    if not self.ready.is_set():
                        self._announce_when_ready(ops, stop)
                    checkpoint_due = self._wait(stop, running, ops)
                finally:
                    running.set()
                    for thread in threads:
                        thread.join(timeout=10)
                if any(s.fatal is not None for s in supervisors):
                    stop.set()
                if stop.is_set() or not checkpoint_due:
                    break
                if not _all_ended(threads):  # no checkpoint under a component still writing
                    while any(t.is_alive() for t in threads) and not stop.wait(1.0):
                        pass
                    if stop.is_set():
                        break
                    continue
                self._checkpoint_and_restart(assembly)
        finally:
            stop.set()
            self._failures.extend(
                (s.component.name, s.fatal) for s in supervisors if s.fatal is not None
            )
            assembly.close()
            ops.stop()

    # -- the embedded broker's checkpoints --------------------------------------------------

    def _wait(self, stop: threading.Event, running: threading.Event, ops: OpsServer) -> bool:
        """Wait for ``stop`` (or a component that ended the process); True when, first, the
        embedded broker reached its checkpoint size."""
        budget = self.settings.kafka.embedded_checkpoint_mb * 1024 * 1024
        while not stop.wait(_CHECK_EVERY_S) and not running.is_set():
            if self.broker is None:
                continue
            if self._paused_since is not None and not ops.failing_checks():
                log.info(
                    "hub ready again after a checkpoint",
                    paused_s=round(time.monotonic() - self._paused_since, 1),
                )
                self._paused_since = None
            memory = self.broker.memory_bytes() or 0
            crowded = self._kept_bytes >= budget // 2  # what must be kept fills much of it
            waited = time.monotonic() - self._last_checkpoint >= _CHECK_MIN_S
            if memory >= budget and (waited or not crowded):
                log.info("embedded broker at its checkpoint size", memory_mb=memory >> 20)
                self._paused_since = time.monotonic()
                return True
        return False

    def _checkpoint_and_restart(self, assembly: "Assembly") -> None:
        """With every component stopped: keep what is needed, restart the broker with it.

        A checkpoint that cannot be written leaves the broker as it is (and is tried again
        later); one that cannot be restored ends the run with the checkpoint kept on disk,
        for the next start to restore."""
        assert self.broker is not None
        self._last_checkpoint = time.monotonic()
        try:
            self._save_checkpoint()
        except Exception as exc:
            log.error("embedded broker checkpoint failed; going on without", error=describe(exc))
            return
        self._broker_whole = False
        self.broker.stop(grace_s=0)
        self.broker.start()
        self._restore()
        assembly.broker_restarted()
        release_free_memory()
        self.checkpoints += 1

    def _save_checkpoint(self) -> None:
        config = client_config(self.settings.kafka, self.bootstrap_servers)
        topics = self.settings.kafka.topics
        summary = broker_checkpoint.save(
            config,
            self.checkpoint_path,
            topics.inbound.name,
            whole_topics={topics.rejected.name},  # the dead-letter listing reads it all
            claim_topics=self._claim_topics(),
            cold_topics=cold_topics(self.settings),
        )
        log.info(
            "embedded broker checkpointed",
            records_read=summary.records_read,
            records_kept=summary.records_kept,
            kept_mb=round(summary.bytes_kept / 2**20, 1),
            seconds=round(summary.seconds, 2),
            most_kept=dict(sorted(summary.kept_by_topic.items(), key=lambda kv: -kv[1])[:5]),
        )

    def _claim_topics(self) -> set[str]:
        """Where the hub writes routed messages that may name a document on hub.inbound:
        hub.outbound, the retry tiers and the dead letters."""
        delivery, topics = self.settings.delivery, self.settings.kafka.topics
        tiers = {delivery.retry_topic(tier) for tier in range(len(delivery.retry_tiers))}
        return {topics.outbound.name, topics.rejected.name, *tiers}

    def _restore(self) -> None:
        """Restore the checkpoint a stop left, if any, into the broker just started."""
        assert self.broker is not None
        path = self.checkpoint_path
        if not path.is_file():
            return
        config = client_config(self.settings.kafka, self.bootstrap_servers)
        summary = broker_checkpoint.restore(
            config,
            self.broker.host,
            self.broker.port,
            path,
            self.settings.kafka.topics.inbound.name,
            self.cold_store,
        )
        path.unlink()
        self._broker_whole = True
        self._kept_bytes = max(0, (self.broker.memory_bytes() or 0) - self._empty_bytes)
        log.info(
            "embedded broker restored from its checkpoint",
            topics=summary.topics,
            records=summary.records_kept,
            on_disk=summary.records_cold,
            seconds=round(summary.seconds, 2),
            cold_store_mb=round(self.cold_store.size_bytes() / 2**20, 1),
            broker_mb=(self.broker.memory_bytes() or 0) >> 20,
        )

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


def _all_ended(threads: list[threading.Thread], wait_s: float = 60.0) -> bool:
    """Wait up to ``wait_s`` for ``threads``; log and say so if one still runs (a component
    that does not stop when asked is a bug, but must not be checkpointed under)."""
    deadline = time.monotonic() + wait_s
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = [t.name for t in threads if t.is_alive()]
    if running:
        log.error(
            "components did not stop; the embedded broker is not checkpointed", components=running
        )
    return not running
