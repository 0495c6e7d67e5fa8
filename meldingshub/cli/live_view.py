"""The live terminal view of ``meldingshub run``: traffic as the hub's own metrics show it.

Everything shown is read from the process's Prometheus registry (the same
series ``/metrics`` serves), never from a component's private state: messages
per second, totals per family and per category pair, rejects by AppRec code,
AppRecs, routing and delivery latency, the embedded broker's memory and checkpoints
(and what it keeps across a stop), and where the API and ``/metrics`` are.
On a terminal it is a rich live display; otherwise one plain log line every
few seconds.
"""

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from meldingshub.embedded_broker import CHECKPOINTED

log = structlog.get_logger(__name__)

_APPREC_OUTCOMES = ("apprec_ok", "apprec_rejected", "apprec_ok_error_in_part")
_RATE_WINDOW_S = 10.0


@dataclass(frozen=True, slots=True)
class Latency:
    """Quantiles read from a Prometheus histogram (bucket upper bounds, so upper estimates)."""

    count: float
    p50_s: float | None
    p99_s: float | None


@dataclass(slots=True)
class Snapshot:
    """The figures of one moment."""

    at: float
    accepted: float = 0.0
    routed: dict[str, float] = field(default_factory=dict)
    """Routed messages per family."""
    pairs: dict[tuple[str, str], float] = field(default_factory=dict)
    """Routed messages per sender → receiver category."""
    rejects: dict[str, float] = field(default_factory=dict)
    """Rejected messages per AppRec error code."""
    duplicates: float = 0.0
    apprecs: dict[str, float] = field(default_factory=dict)
    routing: Latency = Latency(0, None, None)
    delivery: Latency = Latency(0, None, None)
    broker: "BrokerFigures | None" = None
    """The embedded broker's memory and checkpoints; None with an external broker."""


@dataclass(slots=True)
class BrokerFigures:
    """The embedded broker as ``meldingshub_embedded_broker_*`` shows it."""

    memory_bytes: float | None = None
    storage_bytes: float | None = None
    checkpoints: float = 0.0


def _quantiles(buckets: dict[float, float]) -> Latency:
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return Latency(0, None, None)

    def quantile(q: float) -> float | None:
        for bound in bounds:
            if buckets[bound] >= q * total:
                return bound if bound != float("inf") else None
        return None

    return Latency(total, quantile(0.5), quantile(0.99))


def read_snapshot(registry: CollectorRegistry, at: float | None = None) -> Snapshot:
    """The figures the live view shows, from the registry's current samples."""
    snapshot = Snapshot(time.monotonic() if at is None else at)
    routing: dict[float, float] = {}
    delivery: dict[float, float] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "meldingshub_events_total" and labels.get("event_type") == "accepted":
                snapshot.accepted += value
            elif name == "meldingshub_messages_total":
                outcome, family = labels.get("outcome", ""), labels.get("family", "")
                if outcome == "routed" and family != "apprec":
                    snapshot.routed[family] = snapshot.routed.get(family, 0.0) + value
                elif outcome == "duplicate":
                    snapshot.duplicates += value
                elif outcome in _APPREC_OUTCOMES:
                    snapshot.apprecs[outcome] = snapshot.apprecs.get(outcome, 0.0) + value
            elif (
                name == "meldingshub_messages_by_category_total"
                and labels.get("outcome") == "routed"
                and labels.get("family") != "apprec"
                and value
            ):
                pair = (labels.get("sender_category", ""), labels.get("receiver_category", ""))
                snapshot.pairs[pair] = snapshot.pairs.get(pair, 0.0) + value
            elif name == "meldingshub_rejections_total" and value:
                code = labels.get("reason_code", "")
                snapshot.rejects[code] = snapshot.rejects.get(code, 0.0) + value
            elif name == "meldingshub_ingress_to_routed_seconds_bucket":
                bound = float(labels["le"])
                routing[bound] = routing.get(bound, 0.0) + value
            elif name == "meldingshub_ingress_to_delivered_seconds_bucket":
                bound = float(labels["le"])
                delivery[bound] = delivery.get(bound, 0.0) + value
            elif name.startswith("meldingshub_embedded_broker_"):
                _read_broker(snapshot, name, value)
    snapshot.routing = _quantiles(routing)
    snapshot.delivery = _quantiles(delivery)
    return snapshot


def _read_broker(snapshot: Snapshot, name: str, value: float) -> None:
    broker = snapshot.broker = snapshot.broker or BrokerFigures()
    if name == "meldingshub_embedded_broker_memory_bytes":
        broker.memory_bytes = value
    elif name == "meldingshub_embedded_broker_storage_bytes":
        broker.storage_bytes = value
    elif name == "meldingshub_embedded_broker_checkpoints_total":
        broker.checkpoints = value


def broker_line(broker: BrokerFigures) -> str:
    """One line on the embedded broker: its memory, its disk, its checkpoints, what it keeps."""
    return (
        f"embedded broker {_mib(broker.memory_bytes)}, on disk {_mib(broker.storage_bytes)}, "
        f"checkpoints {broker.checkpoints:.0f} "
        f"({CHECKPOINTED.removeprefix('embedded broker: ')})"
    )


def _mib(value: float | None) -> str:
    return "–" if value is None else f"{value / 2**20:,.0f} MiB".replace(",", " ")


class RateWindow:
    """Messages per second over the last few seconds, from successive snapshots."""

    def __init__(self, window_s: float = _RATE_WINDOW_S) -> None:
        self._window_s = window_s
        self._points: deque[tuple[float, float]] = deque()

    def add(self, snapshot: Snapshot) -> float:
        """Record ``snapshot`` and return the current rate of accepted messages."""
        self._points.append((snapshot.at, snapshot.accepted))
        while len(self._points) > 2 and snapshot.at - self._points[0][0] > self._window_s:
            self._points.popleft()
        (first_at, first), (last_at, last) = self._points[0], self._points[-1]
        return (last - first) / (last_at - first_at) if last_at > first_at else 0.0


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.0f} s"


def _n(value: float) -> str:
    return f"{int(value):,}".replace(",", " ")


def _table(title: str, rows: Iterable[tuple[str, float]], empty: str) -> Table:
    table = Table(title=title, title_justify="left", expand=True, show_header=False)
    table.add_column("", ratio=3)
    table.add_column("", justify="right", ratio=1)
    count = 0
    for label, value in rows:
        table.add_row(label, _n(value))
        count += 1
    if not count:
        table.add_row(Text(empty, style="dim"), "")
    return table


def render(snapshot: Snapshot, rate: float, urls: dict[str, str], ready: bool) -> RenderableType:
    """The rich renderable of one moment."""
    header = Text()
    header.append("meldingshub ", style="bold")
    ready = ready or snapshot.accepted > 0
    header.append("ready" if ready else "starting …", style="green" if ready else "yellow")
    header.append(f"   {rate:6.1f} msg/s", style="bold cyan")
    header.append(f"   routed {_n(sum(snapshot.routed.values()))}")
    header.append(f"   rejected {_n(sum(snapshot.rejects.values()))}")
    header.append(f"   duplicates {_n(snapshot.duplicates)}\n")
    if snapshot.broker is not None:
        header.append(f"{broker_line(snapshot.broker)}\n", style="dim")
    for label, url in urls.items():
        header.append(f"{label:<12}", style="dim")
        header.append(f"{url}\n", style="underline")
    header.append("Ctrl-C stops the hub", style="dim")
    families = _table(
        "Routed per family",
        sorted(snapshot.routed.items(), key=lambda kv: -kv[1]),
        "no traffic yet",
    )
    pairs = _table(
        "Routed per category pair (top 8)",
        [
            (f"{s} → {r}", v)
            for (s, r), v in sorted(snapshot.pairs.items(), key=lambda kv: -kv[1])[:8]
        ],
        "no traffic yet",
    )
    rejects = _table(
        "Rejected per AppRec code",
        sorted(snapshot.rejects.items(), key=lambda kv: -kv[1]),
        "none",
    )
    receipts = _table(
        "Receivers' AppRecs",
        [(k.removeprefix("apprec_").replace("_", " "), v) for k, v in snapshot.apprecs.items()],
        "none yet",
    )
    latency = Table(title="Latency (p50 / p99)", title_justify="left", expand=True)
    latency.add_column("")
    latency.add_column("p50", justify="right")
    latency.add_column("p99", justify="right")
    latency.add_row("ingress → routed", _ms(snapshot.routing.p50_s), _ms(snapshot.routing.p99_s))
    if snapshot.delivery.count:
        latency.add_row(
            "ingress → delivered", _ms(snapshot.delivery.p50_s), _ms(snapshot.delivery.p99_s)
        )
    else:
        latency.add_row(Text("ingress → delivered", style="dim"), "no deliveries yet", "")
    grid = Table.grid(expand=True)
    for _ in range(3):
        grid.add_column(ratio=1)
    grid.add_row(families, pairs, Group(rejects, receipts))
    return Group(Panel(header, title="live traffic"), grid, latency)


def plain_line(snapshot: Snapshot, rate: float) -> dict[str, object]:
    """The same figures as fields of one log line (when standard output is not a terminal)."""
    return {
        "msg_per_s": round(rate, 1),
        "routed": {k: int(v) for k, v in sorted(snapshot.routed.items())},
        "rejected": {k: int(v) for k, v in sorted(snapshot.rejects.items())},
        "duplicates": int(snapshot.duplicates),
        "apprecs": {k: int(v) for k, v in sorted(snapshot.apprecs.items())},
        "routed_p99_ms": None
        if snapshot.routing.p99_s is None
        else round(snapshot.routing.p99_s * 1000),
        "delivered_p99_ms": None
        if snapshot.delivery.p99_s is None
        else round(snapshot.delivery.p99_s * 1000),
        **({} if snapshot.broker is None else {"broker": broker_line(snapshot.broker)}),
    }


def show(
    registry: CollectorRegistry,
    stop: threading.Event,
    ready: threading.Event,
    urls: dict[str, str],
    *,
    console: Console | None = None,
    interval_s: float = 0.5,
    log_every_s: float = 10.0,
) -> None:
    """Show the live view until ``stop`` is set (a live display on a terminal, else log lines)."""
    console = console or Console()
    window = RateWindow()
    if console.is_terminal:
        with Live(console=console, refresh_per_second=4, screen=False) as live:
            while not stop.is_set():
                snapshot = read_snapshot(registry)
                live.update(render(snapshot, window.add(snapshot), urls, ready.is_set()))
                stop.wait(interval_s)
        return
    while not stop.wait(log_every_s):
        snapshot = read_snapshot(registry)
        log.info("traffic", ready=ready.is_set(), **plain_line(snapshot, window.add(snapshot)))
