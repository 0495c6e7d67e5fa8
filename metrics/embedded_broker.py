"""Prometheus figures of the embedded broker: its memory, its storage and its checkpoints.

The embedded Tansu broker of ``meldingshub run`` keeps every record in memory and
frees none (issue #20); the hub checkpoints it to bound that. What it costs must be
visible where everything else is: ``/metrics`` and the live view. The figures are read
when scraped, from callables the composition root hands in (this package knows nothing
of processes). No labels. The registry is injected.
"""

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

ByteReading = Callable[[], int | None]
"""Returns a figure in bytes, or None when there is nothing to measure (e.g. not running)."""

MEMORY = "meldingshub_embedded_broker_memory_bytes"
STORAGE = "meldingshub_embedded_broker_storage_bytes"
CHECKPOINTS = "meldingshub_embedded_broker_checkpoints"


class EmbeddedBrokerMetrics(Collector):
    """``meldingshub_embedded_broker_memory_bytes``, ``_storage_bytes`` and
    ``_checkpoints_total``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        memory: ByteReading,
        checkpoints: Callable[[], int],
        storage: ByteReading,
    ) -> None:
        self._memory = memory
        self._storage = storage
        self._checkpoints = checkpoints
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """One sample per figure that can be read now."""
        memory = GaugeMetricFamily(MEMORY, "Resident memory of the embedded broker process.")
        value = self._memory()
        if value is not None:
            memory.add_metric([], float(value))
        yield memory
        storage = GaugeMetricFamily(
            STORAGE, "Disk the embedded broker's records kept off its memory take (cold store)."
        )
        value = self._storage()
        if value is not None:
            storage.add_metric([], float(value))
        yield storage
        yield CounterMetricFamily(
            CHECKPOINTS,
            "Checkpoints that restarted the embedded broker with only what is still needed.",
            value=float(self._checkpoints()),
        )

    def describe(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Names without reading anything, so registering does not call the readers."""
        yield GaugeMetricFamily(MEMORY, "")
        yield GaugeMetricFamily(STORAGE, "")
        yield CounterMetricFamily(CHECKPOINTS, "")
