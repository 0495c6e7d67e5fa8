"""The bytes of documents one process holds at once, shared by every request that brings one.

A HTTP server takes requests concurrently, and each holds its body (and a parse of it) until
the durable write is done: without a shared bound, a burst of legal-size uploads could take
the process's memory. A request reserves what its body may be before it reads it; when the
budget has no room, it is answered "busy, try again" at once instead of waiting in memory.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ByteBudget:
    """A counting limit on bytes held at once; thread-safe, never blocks."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Bytes reserved right now."""
        return self._held

    @contextmanager
    def reserve(self, size: int) -> Iterator[bool]:
        """Hold ``size`` bytes for the block: yields False (holding nothing) if they do not
        fit now. One reservation larger than the whole budget fits only when nothing else is
        held, so a single largest document is always taken."""
        with self._lock:
            fits = self._held == 0 or self._held + size <= self.limit
            if fits:
                self._held += size
        try:
            yield fits
        finally:
            if fits:
                with self._lock:
                    self._held -= size
