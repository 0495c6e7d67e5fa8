"""The operator console: server-rendered pages under ``/console/`` for the ``operator`` role.

Find any message and see its whole life (:mod:`.messages`), the dead letters and their
replay (:mod:`.dead_letters`), the receivers and the register, and the process's health
(:mod:`.overview`). Everything the pages need from outside this layer (Kafka's dead
letters, replay, the document, readiness) is injected by the composition root as
:class:`ConsoleDeps`.
"""

from broker_adapters.http.console.deps import ConsoleDeps, HealthItem
from broker_adapters.http.console.router import console_router

__all__ = ["ConsoleDeps", "HealthItem", "console_router"]
