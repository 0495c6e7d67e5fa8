"""Prometheus metrics of the process's components: whether each runs, and how often it restarted.

A component that fails is restarted with back-off instead of ending the process;
these series make that visible (an alert on restarts, a dashboard of ``up``). The
label values are the names of the components this process runs, a closed set
fixed at start. The registry is injected.
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge


class ComponentMetrics:
    """``meldingshub_component_up`` and ``meldingshub_component_restarts_total``."""

    def __init__(self, registry: CollectorRegistry, components: Iterable[str]) -> None:
        self.up = Gauge(
            "meldingshub_component_up",
            "1 while the component runs, 0 while it waits to be restarted after a failure.",
            ["component"],
            registry=registry,
        )
        self.restarts = Counter(
            "meldingshub_component_restarts",
            "Times a component failed and was restarted (with back-off).",
            ["component"],
            registry=registry,
        )
        for name in components:
            self.up.labels(name).set(0)
            self.restarts.labels(name)
