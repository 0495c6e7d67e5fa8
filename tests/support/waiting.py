"""Waiting on conditions with a deadline: the suite's one ``wait_for`` and ``running``.

Tests never sleep to make timing pass; they poll a condition until it holds or a deadline
passes, and fail with what they were waiting for.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.02) -> T:
    """The first truthy value of ``condition()``; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout_s:g} s: {what}")
        time.sleep(every_s)


class Runnable(Protocol):
    """Anything with the component contract's run loop (``meldingshub.components.Component``)."""

    def run(self, stop: threading.Event) -> None: ...

    def ready(self) -> bool: ...


R = TypeVar("R", bound=Runnable)


@contextlib.contextmanager
def running(
    component: R,
    until_ready: bool = False,
    ready_timeout_s: float = 60,
    stop_timeout_s: float = 30,
) -> Iterator[R]:
    """``component.run`` on its own thread until the block ends.

    With ``until_ready``, the block starts once ``component.ready()`` holds. A failure inside
    the run loop fails the test (it is not lost on the thread), and the loop must stop within
    ``stop_timeout_s``.
    """
    stop = threading.Event()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            component.run(stop)
        except BaseException as exc:
            failure.append(exc)
            raise

    name = getattr(component, "name", type(component).__name__)
    thread = threading.Thread(target=target, name=f"{name}-under-test", daemon=True)
    thread.start()
    try:
        if until_ready:
            wait_for(lambda: component.ready() or bool(failure), ready_timeout_s, f"{name} ready")
        assert not failure, failure
        yield component
    finally:
        stop.set()
        thread.join(stop_timeout_s)
    assert not thread.is_alive(), f"{name} did not stop within {stop_timeout_s:g} s"
    assert not failure, failure
