"""Health gauges: read from the components' checks when scraped, only for adapters that run."""

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from metrics.errors import MetricsError
from metrics.health import HealthMetrics


def scrape(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """``(sample name, adapter label)`` -> value, as a Prometheus server reads them."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, sample.labels.get("adapter", "")): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_each_scrape_reads_the_checks_as_they_are_now() -> None:
    registry = CollectorRegistry()
    state = {"broker": True, "amqp": True}
    HealthMetrics(
        registry,
        lambda: state["broker"],
        {"amqp": lambda: state["amqp"], "http": lambda: True},
    )
    assert scrape(registry) == {
        ("meldingshub_broker_up", ""): 1,
        ("meldingshub_adapter_up", "amqp"): 1,
        ("meldingshub_adapter_up", "http"): 1,
    }
    state.update(broker=False, amqp=False)
    assert scrape(registry) == {
        ("meldingshub_broker_up", ""): 0,
        ("meldingshub_adapter_up", "amqp"): 0,
        ("meldingshub_adapter_up", "http"): 1,
    }


def test_a_check_that_raises_reads_as_down() -> None:
    def unreachable() -> bool:
        raise ConnectionError("no route to the broker")

    registry = CollectorRegistry()
    HealthMetrics(registry, unreachable, {"file": unreachable})
    assert scrape(registry) == {
        ("meldingshub_broker_up", ""): 0,
        ("meldingshub_adapter_up", "file"): 0,
    }


def test_registering_asks_no_check() -> None:
    def must_not_run() -> bool:
        raise AssertionError("checked at registration")

    HealthMetrics(CollectorRegistry(), must_not_run, {"kafka": must_not_run})


def test_adapter_labels_come_from_the_closed_set() -> None:
    with pytest.raises(MetricsError, match="carrier-pigeon is not one of"):
        HealthMetrics(CollectorRegistry(), lambda: True, {"carrier-pigeon": lambda: True})
