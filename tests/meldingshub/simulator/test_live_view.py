"""The live view reads the hub's own metrics: what ``/metrics`` counts is what it shows."""

import threading
import time
from collections import Counter

from prometheus_client import CollectorRegistry
from rich.console import Console
from structlog.testing import capture_logs

from access.principals import Principals
from addressregister.index import RegisterIndex
from meldingshub.cli.live_view import RateWindow, plain_line, read_snapshot, render, show
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Traffic
from metrics.live import HubMetrics
from schemas.reader import MessageReader
from schemas.records import MessageEvent
from schemas.vocabulary import EventType
from tests.meldingshub.simulator.conftest import START, route

URLS = {"metrics": "http://127.0.0.1:9464/metrics"}


def observed(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> tuple[CollectorRegistry, list[MessageEvent]]:
    traffic = Traffic(register, NATIONAL_2019, seed=3, fault_rate=0.1, principals=principals)
    events = [
        e
        for r in route(traffic.messages(400, START), register, principals, reader)
        for e in r.events
    ]
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)
    for event in events:
        metrics.observe(event)
    return registry, events


def test_the_snapshot_counts_what_the_events_say(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> None:
    registry, events = observed(register, principals, reader)
    snapshot = read_snapshot(registry, at=0.0)
    routed = Counter(
        e.family.value
        for e in events
        if e.event_type is EventType.ROUTED and not e.is_copy and e.family.value != "apprec"
    )
    rejects = Counter(e.reason_code for e in events if e.event_type is EventType.REJECTED)
    assert snapshot.routed == {k: float(v) for k, v in routed.items()}
    assert snapshot.rejects == {k: float(v) for k, v in rejects.items() if k}
    assert snapshot.accepted == sum(e.event_type is EventType.ACCEPTED for e in events)
    assert snapshot.duplicates == sum(e.event_type is EventType.DUPLICATE for e in events)
    assert sum(snapshot.pairs.values()) == sum(routed.values())
    assert snapshot.apprecs["apprec_ok"] > 0
    assert snapshot.routing.count == sum(routed.values()) + snapshot.routing.count - sum(
        routed.values()
    )


def test_rate_render_and_log_line(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> None:
    registry, _events = observed(register, principals, reader)
    snapshot = read_snapshot(registry, at=10.0)
    window = RateWindow()
    empty = read_snapshot(CollectorRegistry(), at=0.0)
    assert window.add(empty) == 0.0
    assert window.add(snapshot) == snapshot.accepted / 10.0
    console = Console(record=True, width=160, force_terminal=False)
    console.print(render(snapshot, 12.5, URLS, ready=True))
    text = console.export_text()
    assert "12.5 msg/s" in text and URLS["metrics"] in text
    assert "eresept" in text and "fastlege → reseptformidleren" in text
    line = plain_line(snapshot, 12.5)
    assert line["msg_per_s"] == 12.5 and line["routed"] == {
        k: int(v) for k, v in sorted(snapshot.routed.items())
    }


def test_show_logs_a_traffic_line_when_not_on_a_terminal(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> None:
    registry, _events = observed(register, principals, reader)
    stop, ready = threading.Event(), threading.Event()
    ready.set()
    with capture_logs() as logs:
        thread = threading.Thread(
            target=show,
            args=(registry, stop, ready, URLS),
            kwargs={"console": Console(force_terminal=False), "log_every_s": 0.05},
        )
        thread.start()
        deadline = time.monotonic() + 5
        while not any(entry["event"] == "traffic" for entry in logs):
            assert time.monotonic() < deadline, "no traffic line within 5 s"
            time.sleep(0.02)
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    line = next(entry for entry in logs if entry["event"] == "traffic")
    assert line["routed"] and "msg_per_s" in line
