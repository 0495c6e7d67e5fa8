"""Prometheus gauges of the process's health: does it reach the Kafka broker, can each ingress
adapter it runs take messages.

The alerts ``MeldingshubBrokerUnreachable`` and ``MeldingshubAdapterDown`` fire on a 0, so
a value must come from the component's real state, never from a default: each sample is
read when scraped, from checks the composition root hands in (this package knows nothing
of Kafka clients or adapters). Only the adapters the process runs get a series, so an
adapter that is not configured is absent, not down. The registry is injected.
"""

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from metrics.errors import MetricsError
from schemas.vocabulary import INGRESS_ADAPTERS

HealthCheck = Callable[[], bool]
"""True when the component can serve now; an exception counts as False."""

BROKER_UP = "meldingshub_broker_up"
ADAPTER_UP = "meldingshub_adapter_up"


class HealthMetrics(Collector):
    """``meldingshub_broker_up`` and ``meldingshub_adapter_up{adapter}``, read at scrape time."""

    def __init__(
        self,
        registry: CollectorRegistry,
        broker: HealthCheck,
        adapters: Mapping[str, HealthCheck],
    ) -> None:
        unknown = sorted(set(adapters) - set(INGRESS_ADAPTERS))
        if unknown:
            raise MetricsError(
                f"adapter {', '.join(unknown)} is not one of {', '.join(INGRESS_ADAPTERS)}; "
                "the adapter label takes the ingress adapters' names only"
            )
        self._broker = broker
        self._adapters = dict(sorted(adapters.items()))
        registry.register(self)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Ask each check now (the broker check waits at most its own timeout)."""
        yield GaugeMetricFamily(
            BROKER_UP,
            "1 when this process's Kafka client got an answer from the broker, 0 otherwise.",
            value=_as_gauge(self._broker),
        )
        adapters = GaugeMetricFamily(
            ADAPTER_UP,
            "1 when the ingress adapter can take messages, 0 when it cannot.",
            labels=["adapter"],
        )
        for adapter, check in self._adapters.items():
            adapters.add_metric([adapter], _as_gauge(check))
        yield adapters

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Names without asking anything, so registering does not call the checks."""
        yield GaugeMetricFamily(BROKER_UP, "")
        yield GaugeMetricFamily(ADAPTER_UP, "", labels=["adapter"])


def _as_gauge(check: HealthCheck) -> float:
    try:
        return 1.0 if check() else 0.0
    except Exception:  # a check that cannot answer has not seen the component serve
        return 0.0
