"""Prometheus gauges of the embedded broker: its memory, its store's memory and its disk use.

The embedded default is meant to run for days, so what it costs must be visible
where everything else is (``/metrics``, the live view). The figures are read
when scraped, from callables the composition root hands in (this package knows
nothing of processes). The ``process`` label is one of a closed set. The registry
is injected.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

ByteReading = Callable[[], int | None]
"""Returns a figure in bytes, or None when there is nothing to measure (e.g. not running)."""

PROCESSES = ("broker", "storage")


class EmbeddedBrokerMetrics(Collector):
    """``meldingshub_embedded_broker_memory_bytes{process}``, ``_storage_bytes``, ``_durable``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        durable: bool,
        broker_memory: ByteReading,
        storage_memory: ByteReading,
        storage_bytes: ByteReading,
    ) -> None:
        self._durable = durable
        self._memory = {"broker": broker_memory, "storage": storage_memory}
        self._storage_bytes = storage_bytes
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per figure that can be read now."""
        memory = GaugeMetricFamily(
            "meldingshub_embedded_broker_memory_bytes",
            "Resident memory of the embedded broker's processes: the broker, and its disk store.",
            labels=["process"],
        )
        for process in PROCESSES:
            value = self._memory[process]()
            if value is not None:
                memory.add_metric([process], float(value))
        yield memory
        stored = self._storage_bytes()
        disk = GaugeMetricFamily(
            "meldingshub_embedded_broker_storage_bytes",
            "Bytes the embedded broker's records take on disk (absent when they are in memory).",
        )
        if stored is not None:
            disk.add_metric([], float(stored))
        yield disk
        yield GaugeMetricFamily(
            "meldingshub_embedded_broker_durable",
            "1 when the embedded broker keeps accepted records on disk across a stop, "
            "0 when it keeps them in memory only.",
            value=1.0 if self._durable else 0.0,
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Names without reading anything, so registering does not call the readers."""
        yield GaugeMetricFamily("meldingshub_embedded_broker_memory_bytes", "", labels=["process"])
        yield GaugeMetricFamily("meldingshub_embedded_broker_storage_bytes", "")
        yield GaugeMetricFamily("meldingshub_embedded_broker_durable", "")
