"""Endpoint calls on a bounded thread pool, so one slow receiver cannot hold up the others.

The delivery loop starts a receiver's call here and waits for answers only as
long as :attr:`DeliverySettings.answer_wait_s`. A call still running then is
*in flight*: the loop moves on (the message waits in its retry path) and the
call runs out its own hard deadline in the background. Its late result is kept
under the message's idempotency key, so the retry uses it instead of calling
again, and the breaker hears about it once (:meth:`Calls.settled`). A receiver
has at most one call running, so it holds at most one worker of the pool.
"""

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from addressregister.model import Endpoint as Address
from broker_adapters.delivery.base import Attempt, Failed


@dataclass(frozen=True, slots=True)
class Settled:
    """An in-flight call that has finished: which endpoint, and how."""

    key: str
    address: Address
    result: Attempt


class Calls:
    """The pool and the calls left in flight by earlier batches (used by the loop thread)."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="delivery-call")
        self._in_flight: dict[str, tuple[int, Address, Future[Attempt]]] = {}
        self._late: dict[str, Attempt] = {}
        self._lock = threading.Lock()
        self.closed = False
        """True once :meth:`close` was called: a closed pool takes no calls."""

    def start(self, call: Callable[[], Attempt]) -> Future[Attempt]:
        """Run ``call`` on the pool."""
        return self._pool.submit(call)

    def leave(self, key: str, receiver: int, address: Address, future: Future[Attempt]) -> None:
        """Stop waiting for ``future``; keep its result for the retry of message ``key``."""
        with self._lock:
            self._in_flight[key] = (receiver, address, future)

    def busy(self, receiver: int) -> bool:
        """True while a call to ``receiver`` left in flight is still running."""
        with self._lock:
            return any(r == receiver and not f.done() for r, _a, f in self._in_flight.values())

    def running(self, key: str) -> bool:
        """True while the call of message ``key`` is still running."""
        with self._lock:
            entry = self._in_flight.get(key)
            return entry is not None and not entry[2].done()

    def settled(self) -> list[Settled]:
        """Calls left in flight that have finished since the last look (each once)."""
        with self._lock:
            done = [(k, a, f) for k, (_r, a, f) in self._in_flight.items() if f.done()]
            for key, _address, _future in done:
                del self._in_flight[key]
        found = [Settled(key, address, _result(future)) for key, address, future in done]
        for item in found:
            self._late[item.key] = item.result
        return found

    def late_result(self, key: str) -> Attempt | None:
        """The result of message ``key``'s call that finished after its batch (taken once)."""
        return self._late.pop(key, None)

    def close(self) -> None:
        """Stop taking calls; running ones end at their own deadline."""
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


def _result(future: Future[Attempt]) -> Attempt:
    error = future.exception()
    if error is not None:
        return Failed(f"internal error in the endpoint ({type(error).__name__})")
    return future.result()
