"""Prometheus metrics of the delivery workers: deliveries by endpoint kind and outcome,
attempts, ingress-to-delivered latency, circuit-breaker states and retry backlog depth.

Label values come from closed sets: the endpoint kinds of the address register
(repeated here, since metrics imports no register code; a test keeps them
equal), ``DeliveryOutcome``, :class:`AttemptResult`, the breaker states, and the
configured retry tier names (a handful, fixed at start). Never a HER-id.
"""

from collections.abc import Iterable, Mapping
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.records import DeliveryOutcome

ENDPOINT_KINDS = ("amqp", "mailbox", "webhook", "kafka", "file", "none")
"""``addressregister.model.EndpointKind`` values, plus ``none`` (the receiver has no endpoint)."""

BREAKER_STATES = ("closed", "open", "half_open")

LATENCY_BUCKETS_S = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    900.0,
    3600.0,
    4 * 3600.0,
    24 * 3600.0,
)
"""From the 50 ms p99 target up to the 24 h give-up limit."""


class AttemptResult(StrEnum):
    """How one hand-over attempt ended."""

    SUCCESS = "success"
    RETRIABLE = "retriable"
    """Failed; the message goes to a retry tier."""
    PERMANENT = "permanent"
    """Refused by the receiver (e.g. HTTP 4xx); not retried."""
    SKIPPED = "skipped"
    """Not attempted: the endpoint's circuit breaker is open."""


def _kind(kind: str) -> str:
    return kind if kind in ENDPOINT_KINDS else "none"


class DeliveryMetrics:
    """The delivery metrics in an injected registry; every label combination pre-initialised."""

    def __init__(self, registry: CollectorRegistry, tiers: Iterable[str] = ()) -> None:
        self.deliveries = Counter(
            "meldingshub_deliveries",
            "Delivery outcomes by endpoint kind: delivered, failed (given up) and retried.",
            ["endpoint_kind", "outcome"],
            registry=registry,
        )
        self.attempts = Counter(
            "meldingshub_delivery_attempts",
            "Hand-over attempts to receivers' endpoints by endpoint kind and result.",
            ["endpoint_kind", "result"],
            registry=registry,
        )
        self.latency = Histogram(
            "meldingshub_delivery_latency_seconds",
            "Time from ingress (received by the hub) to delivered, by endpoint kind.",
            ["endpoint_kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.breakers = Gauge(
            "meldingshub_delivery_breakers",
            "Endpoints with a circuit breaker in each state, by endpoint kind "
            "(endpoints without failures are not held and count as closed).",
            ["endpoint_kind", "state"],
            registry=registry,
        )
        self.retry_depth = Gauge(
            "meldingshub_delivery_retry_depth",
            "Records waiting in each retry tier topic (partitions this worker holds).",
            ["tier"],
            registry=registry,
        )
        self.backlog = Gauge(
            "meldingshub_delivery_backlog_messages",
            "Messages held for receivers with a failing endpoint (partitions this worker holds).",
            registry=registry,
        )
        self._tiers = tuple(tiers)
        for kind in ENDPOINT_KINDS:
            self.latency.labels(kind)
            for outcome in DeliveryOutcome:
                self.deliveries.labels(kind, outcome.value)
            for result in AttemptResult:
                self.attempts.labels(kind, result.value)
            for state in BREAKER_STATES:
                self.breakers.labels(kind, state)
        for tier in self._tiers:
            self.retry_depth.labels(tier)

    def outcome(self, kind: str, outcome: DeliveryOutcome) -> None:
        """Count one delivery outcome."""
        self.deliveries.labels(_kind(kind), outcome.value).inc()

    def attempt(self, kind: str, result: AttemptResult) -> None:
        """Count one attempt (or one skipped by an open breaker)."""
        self.attempts.labels(_kind(kind), result.value).inc()

    def delivered_after(self, kind: str, seconds: float) -> None:
        """Observe the ingress-to-delivered time of one delivery."""
        self.latency.labels(_kind(kind)).observe(max(0.0, seconds))

    def breaker_states(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Set the breaker gauges from ``(kind, state) -> count`` (absent pairs are 0)."""
        for kind in ENDPOINT_KINDS:
            for state in BREAKER_STATES:
                self.breakers.labels(kind, state).set(counts.get((kind, state), 0))

    def depth(self, per_tier: Mapping[str, int], backlog: int) -> None:
        """Set the retry-tier depths and the held backlog."""
        for tier in self._tiers:
            self.retry_depth.labels(tier).set(per_tier.get(tier, 0))
        self.backlog.set(backlog)
