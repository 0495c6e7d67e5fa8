"""The bytes of documents one process holds at once, shared by every request that brings one.

A HTTP server takes requests concurrently, and each holds its body (and a parse of it) until
the durable write is done: without a shared bound, a burst of legal-size uploads could take
the process's memory. A request takes its bytes from the budget as they arrive, so what it
holds is what it sent (a slow or idle upload holds next to nothing); when the budget has no
room for a chunk, the request is answered "busy, try again" at once and gives back what it
held.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Holding:
    """What one request holds of a :class:`ByteBudget`."""

    def __init__(self, budget: "ByteBudget") -> None:
        self._budget = budget
        self.bytes = 0

    def take(self, size: int) -> bool:
        """Hold ``size`` more bytes; False (holding no more) when they do not fit now."""
        if self._budget._take(size, self.bytes):
            self.bytes += size
            return True
        return False


class ByteBudget:
    """A counting limit on bytes held at once; thread-safe, never blocks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes held right now."""
        return self._held

    def _take(self, size: int, mine: int) -> bool:
        with self._lock:
            # A request that holds everything held may always go on, so one document larger
            # than the whole budget still passes when it is alone.
            if self._held + size <= self.limit or self._held == mine:
                self._held += size
                return True
            return False

    @contextmanager
    def hold(self) -> Iterator[Holding]:
        """A request's holding for the block; everything it took is given back after."""
        holding = Holding(self)
        try:
            yield holding
        finally:
            with self._lock:
                self._held -= holding.bytes
