"""A steady simulated stream into the running hub: the traffic of ``make run``.

It runs as one of the hub's components, so the hub starts it once the broker
and topics exist and stops it before the embedded broker goes away. It waits
until the hub is ready (router and aggregator have their partitions), then
writes the national mix to ``hub.inbound`` at a fixed rate, as the Kafka
ingress would, with a small share of faults so rejects show too. A failure of
the simulator is logged and ends the stream, never the hub.
"""

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from access.principals import read_principals
from hubcore.errors import MeldingshubError
from kafka_io.settings import KafkaSettings
from meldingshub.settings import Settings
from meldingshub.simulator.mix import MIXES
from meldingshub.simulator.pacing import SendStats, send_all
from meldingshub.simulator.parties import REGISTER_FILE, register_index
from meldingshub.simulator.senders import KafkaSender
from meldingshub.simulator.traffic import Traffic
from meldingshub.simulator.truth import Truth

log = structlog.get_logger(__name__)

DEMO_RATE = 40.0
"""Documents per second of the demo stream: visible traffic that a laptop carries easily."""
DEMO_FAULT_RATE = 0.02
READY_WAIT_S = 30.0
"""How long the stream waits for the hub to report ready before it starts anyway."""


class SimulatedStream:
    """Hub component: feeds the national mix into ``hub.inbound`` once ``hub_ready`` is set."""

    name = "simulator"

    def __init__(
        self,
        settings: Settings,
        bootstrap_servers: str,
        hub_ready: Callable[[], bool],
        *,
        rate: float = DEMO_RATE,
        fault_rate: float = DEMO_FAULT_RATE,
        seed: int | None = None,
        register: Path | None = None,
        truth: Truth | None = None,
    ) -> None:
        self._settings = settings
        self._kafka: KafkaSettings = settings.kafka
        self._bootstrap = bootstrap_servers
        self._hub_ready = hub_ready
        self.rate = rate
        self._fault_rate = fault_rate
        self._seed = seed if seed is not None else int(datetime.now(UTC).timestamp())
        self._register = register or settings.data_dir / REGISTER_FILE
        self.truth = truth
        self.stats = SendStats()
        self._runs = 0

    def ready(self) -> bool:
        """Never holds up the hub's readiness: the stream starts after the hub is ready."""
        return True

    def run(self, stop: threading.Event) -> None:
        """Stream until ``stop`` is set, from when the hub is ready (or has taken too long)."""
        deadline = time.monotonic() + READY_WAIT_S
        while not stop.is_set() and not self._hub_ready():
            stop.wait(0.2)
            if time.monotonic() > deadline:
                # Records wait durably in hub.inbound; a slow router simply starts behind.
                log.warning("hub not ready yet; simulated stream starts anyway")
                break
        if stop.is_set():
            return
        self._runs += 1
        try:
            self._stream(stop)
        except MeldingshubError as exc:
            log.error("simulated stream stopped", error=str(exc))

    def _stream(self, stop: threading.Event) -> None:
        path = self._register if self._register.is_file() else None
        index = register_index(path, self._settings.address_register)
        principals_file = self._settings.access.file_for(
            self._settings.data_dir, embedded=self._settings.kafka.embedded
        )
        if principals_file is not None and not principals_file.is_file():
            principals_file = None  # not provisioned (yet): send as the organisations' names
        principals = read_principals(principals_file) if principals_file else None
        traffic = Traffic(
            index,
            MIXES["national-2019"],
            # A run after a restart sends new messages, not the first run's again.
            seed=self._seed + self._runs - 1,
            fault_rate=self._fault_rate,
            principals=principals,
            zone=ZoneInfo(self._settings.statistics.timezone),
        )
        sender = KafkaSender(self._kafka, self._bootstrap)
        log.info("simulated stream started", rate=self.rate, topic=self._kafka.topics.inbound.name)
        try:
            self.stats = send_all(
                traffic.stream(datetime.now(UTC), self.rate), sender, self.truth,
                realtime=True, stop=stop,
            )  # fmt: skip
        finally:
            sender.close()
        log.info("simulated stream stopped", sent=self.stats.sent)
