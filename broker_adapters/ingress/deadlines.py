"""One watchdog thread that settles asynchronous writes whose report never came.

librdkafka reports every record within its delivery timeout; if the report is lost
anyway (a broken producer, a bug in a callback), the sender would wait for ever and
an AMQP delivery would hold its prefetch slot for ever. Each asynchronous write
registers a deadline here; at the deadline its expiry callback runs (and settles the
write unless the report arrived first).
"""

import heapq
import itertools
import threading
import time
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)

Expire = Callable[[], None]


class Deadlines:
    """A heap of (deadline, callback) served by one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Expire]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, timeout_s: float, expire: Expire) -> None:
        """Call ``expire`` after ``timeout_s`` (from the watchdog thread)."""
        with self._condition:
            if self._closed:
                return
            heapq.heappush(self._heap, (time.monotonic() + timeout_s, next(self._order), expire))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._serve, name="write-deadlines", daemon=True
                )
                self._thread.start()
            self._condition.notify()

    def close(self) -> None:
        """Stop the watchdog; pending deadlines are dropped."""
        with self._condition:
            self._closed = True
            self._heap.clear()
            self._condition.notify()
        if self._thread is not None:
            self._thread.join(2.0)

    def _serve(self) -> None:
        while True:
            with self._condition:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._condition.wait(wait)
                if self._closed:
                    return
                _deadline, _order, expire = heapq.heappop(self._heap)
            try:
                expire()
            except Exception as exc:  # the watchdog must outlive any expiry callback
                log.error("write deadline callback raised", error=type(exc).__name__)
