"""What the composition root needs from a component: a name, a run loop, a readiness answer."""

import threading
from typing import Protocol


class Component(Protocol):
    """A worker that runs until ``stop`` is set and can say whether it is ready."""

    @property
    def name(self) -> str:
        """The component's name in logs, readiness checks and ``meldingshub run <name>``."""

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; return promptly after."""

    def ready(self) -> bool:
        """True once the component does useful work (e.g. has its partitions)."""
