"""Circuit breakers, one per endpoint (kind + address), so the hub stops hammering a receiver
that is down and probes it again later.

Closed: attempts go through; ``failure_threshold`` consecutive failures open it.
Open: attempts are refused (the message waits in a retry tier instead) until
``open_s`` has passed; then one probe goes through (half-open). A successful
probe closes the breaker; a failed one opens it again for twice as long, up to
``max_open_s``. Only endpoints with failures are held in memory.
"""

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from addressregister.model import Endpoint, EndpointKind
from broker_adapters.delivery.settings import BreakerSettings


class BreakerState(StrEnum):
    """The state of one breaker (also a label value of the breaker metric)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class _Breaker:
    failures: int = 0
    open_for_s: float = 0.0
    retry_at: float | None = None
    """When an open breaker lets the next probe through; None = closed."""
    probing: bool = False


class Breakers:
    """The breakers of one worker (single-threaded: the delivery loop owns it)."""

    def __init__(
        self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._breakers: dict[tuple[str, str], _Breaker] = {}

    @staticmethod
    def _key(endpoint: Endpoint) -> tuple[str, str]:
        return endpoint.kind.value, endpoint.address

    def state(self, endpoint: Endpoint) -> BreakerState:
        """The breaker's state now."""
        breaker = self._breakers.get(self._key(endpoint))
        if breaker is None or breaker.retry_at is None:
            return BreakerState.CLOSED
        if breaker.probing or self._clock() >= breaker.retry_at:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def permits(self, endpoint: Endpoint) -> bool:
        """What :meth:`allow` would answer now, without taking the half-open probe."""
        breaker = self._breakers.get(self._key(endpoint))
        if breaker is None or breaker.retry_at is None:
            return True
        return not breaker.probing and self._clock() >= breaker.retry_at

    def allow(self, endpoint: Endpoint) -> bool:
        """True when an attempt may go to ``endpoint`` now (an open one lets one probe through)."""
        breaker = self._breakers.get(self._key(endpoint))
        if breaker is None or breaker.retry_at is None:
            return True
        if breaker.probing or self._clock() < breaker.retry_at:
            return False
        breaker.probing = True
        return True

    def succeeded(self, endpoint: Endpoint) -> None:
        """The endpoint answered: close its breaker and forget it."""
        self._breakers.pop(self._key(endpoint), None)

    def failed(self, endpoint: Endpoint) -> None:
        """An attempt failed: count it, and open (or re-open) the breaker when due."""
        settings = self._settings
        breaker = self._breakers.setdefault(self._key(endpoint), _Breaker())
        breaker.failures += 1
        if breaker.probing:
            breaker.probing = False
            breaker.open_for_s = min(breaker.open_for_s * 2, settings.max_open_s)
        elif breaker.retry_at is None and breaker.failures >= settings.failure_threshold:
            breaker.open_for_s = min(settings.open_s, settings.max_open_s)
        else:
            return
        breaker.retry_at = self._clock() + breaker.open_for_s

    def held(self) -> list[tuple[str, str, str, int, float | None]]:
        """``(kind, address, state, failures, seconds until the next probe)`` of every breaker
        held (those with failures), for the operator console."""
        now = self._clock()
        return [
            (
                kind,
                address,
                self.state(Endpoint(EndpointKind(kind), address)).value,
                breaker.failures,
                None if breaker.retry_at is None else max(0.0, breaker.retry_at - now),
            )
            for (kind, address), breaker in self._breakers.items()
        ]

    def counts(self) -> Counter[tuple[str, BreakerState]]:
        """How many held breakers are in each state, per endpoint kind."""
        counts: Counter[tuple[str, BreakerState]] = Counter()
        now = self._clock()
        for (kind, _address), breaker in self._breakers.items():
            if breaker.retry_at is None:
                state = BreakerState.CLOSED
            elif breaker.probing or now >= breaker.retry_at:
                state = BreakerState.HALF_OPEN
            else:
                state = BreakerState.OPEN
            counts[(kind, state)] += 1
        return counts
