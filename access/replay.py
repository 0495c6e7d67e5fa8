"""Remembers which DPoP proofs were used, for as long as they could be replayed, in bounded memory.

A proof is identified by its key's thumbprint and its ``jti``, stored as a 16-byte
digest (no client text is kept). Entries expire after the replay window, which
the settings guarantee outlasts a proof's validity. The store never forgets a
live entry to make room: when it is full of them a new proof is refused for now
(:class:`ReplayStoreFull`), because forgetting would let a captured proof through.
"""

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class ReplayStoreFull(Exception):  # noqa: N818  (a state, not a programming error)
    """Every slot holds a live entry; the caller should answer 503 and let the client retry."""


class ReplayStoreUnavailable(Exception):  # noqa: N818  (a state, not a programming error)
    """The shared store did not answer; the proof is refused (fail closed) with a 503 to retry."""


class ReplayStore(Protocol):
    """Where the proofs already used are kept: this process's memory, or a store every
    replica shares (``hubstats.proofs.SharedProofs``)."""

    def first_use(self, key_thumbprint: str, jti: str) -> bool:
        """Record the pair and return True, or return False when it was seen in the window;
        :class:`ReplayStoreFull` or :class:`ReplayStoreUnavailable` when it cannot say."""
        ...


class ReplayCache:
    """First use of a (key thumbprint, jti) pair within ``window_s``; thread-safe."""

    def __init__(
        self,
        window_s: float,
        max_entries: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window_s = window_s
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._expiry: dict[bytes, float] = {}
        self._order: deque[tuple[float, bytes]] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._expiry)

    def first_use(self, key_thumbprint: str, jti: str) -> bool:
        """Record the pair and return True, or return False when it was seen in the window."""
        digest = hashlib.sha256(f"{key_thumbprint}\n{jti}".encode()).digest()[:16]
        with self._lock:
            now = self._monotonic()
            self._purge(now)
            expiry = self._expiry.get(digest)
            if expiry is not None and expiry > now:
                return False
            if expiry is None and len(self._expiry) >= self._max_entries:
                raise ReplayStoreFull("the DPoP replay store is full")
            until = now + self._window_s
            self._expiry[digest] = until
            self._order.append((until, digest))
            return True

    def _purge(self, now: float) -> None:
        while self._order and self._order[0][0] <= now:
            until, digest = self._order.popleft()
            if self._expiry.get(digest) == until:
                del self._expiry[digest]
