"""Prometheus gauges of the embedded broker: its memory, its disk use, and whether it has a disk.

The embedded Tansu broker of ``meldingshub run`` keeps every record in memory
(issue #20), so what it costs must be visible where everything else is:
``/metrics`` and the live view. The figures are read when scraped, from
callables the composition root hands in (this package knows nothing of
processes). No labels. The registry is injected.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

ByteReading = Callable[[], int | None]
"""Returns a figure in bytes, or None when there is nothing to measure (e.g. not running)."""

MEMORY = "meldingshub_embedded_broker_memory_bytes"
STORAGE = "meldingshub_embedded_broker_storage_bytes"
DURABLE = "meldingshub_embedded_broker_durable"


class EmbeddedBrokerMetrics(Collector):
    """``meldingshub_embedded_broker_memory_bytes``, ``_storage_bytes`` and ``_durable``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        memory: ByteReading,
        storage: ByteReading | None = None,
    ) -> None:
        self._memory = memory
        self._storage = storage
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One sample per figure that can be read now."""
        memory = GaugeMetricFamily(MEMORY, "Resident memory of the embedded broker process.")
        value = self._memory()
        if value is not None:
            memory.add_metric([], float(value))
        yield memory
        storage = GaugeMetricFamily(
            STORAGE, "Bytes the embedded broker's records take on disk (absent when in memory)."
        )
        stored = self._storage() if self._storage is not None else None
        if stored is not None:
            storage.add_metric([], float(stored))
        yield storage
        yield GaugeMetricFamily(
            DURABLE,
            "1 when the embedded broker keeps accepted records on disk across a stop, "
            "0 when in memory only (messages in flight are lost at stop).",
            value=0.0 if self._storage is None else 1.0,
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Names without reading anything, so registering does not call the readers."""
        yield GaugeMetricFamily(MEMORY, "")
        yield GaugeMetricFamily(STORAGE, "")
        yield GaugeMetricFamily(DURABLE, "")
