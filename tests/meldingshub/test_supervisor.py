"""A failing component is restarted with back-off and reported; it never ends the process."""

import threading

from prometheus_client import CollectorRegistry

from meldingshub.supervisor import Supervisor
from metrics.components import ComponentMetrics
from tests.support.waiting import wait_for


class Flaky:
    """Fails its first ``failures`` runs, then runs until stopped."""

    name = "flaky"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.runs = 0
        self.running = threading.Event()
        self.release = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise ValueError("boom: 8094166²")
        self.running.set()
        stop.wait()

    def ready(self) -> bool:
        return self.running.is_set()


def test_a_failing_component_is_restarted_counted_and_not_ready_meanwhile() -> None:
    registry = CollectorRegistry()
    metrics = ComponentMetrics(registry, ["flaky"])
    component = Flaky(failures=3)
    supervisor = Supervisor(component, metrics, initial_backoff_s=0.01, max_backoff_s=0.05)
    assert not supervisor.ready()
    stop = threading.Event()
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(component.running.is_set, 10, "the component was not restarted")
        assert component.runs == 4
        assert supervisor.restarts == 3
        assert supervisor.ready()
        sample = registry.get_sample_value
        assert sample("meldingshub_component_restarts_total", {"component": "flaky"}) == 3
        assert sample("meldingshub_component_up", {"component": "flaky"}) == 1
        assert not stop.is_set(), "a component failure stopped the process"
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert registry.get_sample_value("meldingshub_component_up", {"component": "flaky"}) == 0


class Exits:
    name = "exits"

    def run(self, stop: threading.Event) -> None:
        raise SystemExit(3)

    def ready(self) -> bool:
        return False


def test_system_exit_still_stops_the_process() -> None:
    supervisor = Supervisor(Exits(), ComponentMetrics(CollectorRegistry(), ["exits"]))
    stop = threading.Event()
    supervisor.run(stop)
    assert stop.is_set()
    assert isinstance(supervisor.fatal, SystemExit)
