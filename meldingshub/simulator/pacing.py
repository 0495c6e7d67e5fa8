"""Sends generated traffic at a rate (or as fast as the sender takes it) and keeps the truth.

With ``realtime`` each document goes out when the wall clock reaches its
planned ingress time (relative to the first one), so messages and the
receivers' AppRecs keep the pace the traffic planned and the hub measures true
latencies; without it documents go as fast as the sender takes them. A slow
moment is made up for instead of drifting; waiting is on the stop event, so
Ctrl-C ends a run at once. Every document handed to the sender is recorded in the truth, so a
run that was stopped half-way still has an exact truth for what it sent.
"""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from meldingshub.simulator.senders import Sender
from meldingshub.simulator.traffic import Outgoing
from meldingshub.simulator.truth import Truth

Progress = Callable[["SendStats"], None]


@dataclass
class SendStats:
    """How far a run got."""

    sent: int = 0
    bytes: int = 0
    started: float = 0.0
    """``time.monotonic()`` at the start."""

    @property
    def elapsed_s(self) -> float:
        """Seconds since the start."""
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def rate(self) -> float:
        """Documents per second so far."""
        return self.sent / self.elapsed_s


def send_all(
    traffic: Iterable[Outgoing],
    sender: Sender,
    truth: Truth | None,
    *,
    realtime: bool = False,
    duration_s: float | None = None,
    stop: threading.Event | None = None,
    progress: Progress | None = None,
    progress_every_s: float = 2.0,
) -> SendStats:
    """Send ``traffic`` until it ends, ``duration_s`` passed or ``stop`` is set."""
    stop = stop or threading.Event()
    stats = SendStats(started=time.monotonic())
    next_progress = stats.started + progress_every_s
    deadline = stats.started + duration_s if duration_s is not None else None
    first: datetime | None = None
    for outgoing in traffic:
        now = time.monotonic()
        if stop.is_set() or (deadline is not None and now >= deadline):
            break
        if realtime:
            first = first or outgoing.received_at
            due = stats.started + (outgoing.received_at - first).total_seconds()
            if due > now and stop.wait(due - now):
                break
        sender.send(outgoing)
        if truth is not None:
            truth.record(outgoing)
        stats.sent += 1
        stats.bytes += len(outgoing.raw)
        if progress is not None and time.monotonic() >= next_progress:
            progress(stats)
            next_progress = time.monotonic() + progress_every_s
    return stats
