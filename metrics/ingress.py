"""Prometheus metrics of the ingress adapters: received, accepted, refused, bytes, write latency.

Labels are the adapter (``http``, ``amqp``, ``kafka``, ``file``) and, for refusals,
the reason from a closed set; every series exists from the start so dashboards
show zeros, not gaps. The registry is injected.
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from metrics.errors import MetricsError
from schemas.outcomes import RefusalReason
from schemas.vocabulary import INGRESS_ADAPTERS

REFUSAL_REASONS = tuple(reason.value for reason in RefusalReason)
"""The ``reason`` label's closed set: :class:`schemas.outcomes.RefusalReason`."""

WRITE_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
"""A durable write on a healthy broker takes milliseconds; seconds mean trouble."""


class IngressMetrics:
    """The ingress metrics, registered on ``registry``."""

    def __init__(
        self,
        registry: CollectorRegistry,
        adapters: Iterable[str] = INGRESS_ADAPTERS,
    ) -> None:
        self._adapters = frozenset(adapters)
        self.received = Counter(
            "meldingshub_ingress_received",
            "Messages offered to an ingress adapter, before any check.",
            ["adapter"],
            registry=registry,
        )
        self.accepted = Counter(
            "meldingshub_ingress_accepted",
            "Messages durably written to hub.inbound and acknowledged to the sender.",
            ["adapter"],
            registry=registry,
        )
        self.refused = Counter(
            "meldingshub_ingress_refused",
            "Messages ingress did not accept, by reason (broker_unavailable: the sender retries).",
            ["adapter", "reason"],
            registry=registry,
        )
        self.accepted_bytes = Counter(
            "meldingshub_ingress_accepted_bytes",
            "Bytes of the documents durably written to hub.inbound.",
            ["adapter"],
            registry=registry,
        )
        self.write_seconds = Histogram(
            "meldingshub_ingress_write_seconds",
            "Time from handing a message to Kafka until the broker confirmed the write (acks=all).",
            ["adapter"],
            buckets=WRITE_BUCKETS_S,
            registry=registry,
        )
        for adapter in sorted(self._adapters):
            self.received.labels(adapter)
            self.accepted.labels(adapter)
            self.accepted_bytes.labels(adapter)
            self.write_seconds.labels(adapter)
            for reason in REFUSAL_REASONS:
                self.refused.labels(adapter, reason)

    def _check(self, adapter: str) -> str:
        if adapter not in self._adapters:
            raise MetricsError(f"adapter {adapter!r} is not one of {sorted(self._adapters)}")
        return adapter

    def observe_received(self, adapter: str) -> None:
        """One message arrived."""
        self.received.labels(self._check(adapter)).inc()

    def observe_accepted(
        self, adapter: str, size_bytes: int, write_seconds: float | None = None
    ) -> None:
        """One message was durably written, ``write_seconds`` after it was handed to Kafka.

        The Kafka adapter writes inside transactions and has no per-message latency.
        """
        adapter = self._check(adapter)
        self.accepted.labels(adapter).inc()
        self.accepted_bytes.labels(adapter).inc(size_bytes)
        if write_seconds is not None:
            self.write_seconds.labels(adapter).observe(write_seconds)

    def observe_refused(self, adapter: str, reason: str) -> None:
        """One message was refused for ``reason`` (a value of :data:`REFUSAL_REASONS`)."""
        if reason not in REFUSAL_REASONS:
            raise MetricsError(f"refusal reason {reason!r} is not one of {REFUSAL_REASONS}")
        self.refused.labels(self._check(adapter), reason).inc()
