"""What the API's routers and the console's sources need of a process's shared resources.

:class:`meldingshub.wiring.Resources` has all of it; tests and the OpenAPI generator give
stand-ins.
"""

from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry

from access.principals_file import PrincipalsFile
from addressregister.live import RegisterView
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.http.ingress_api import Gate
from hubstats.store import StatisticsStore
from meldingshub.settings import Settings
from metrics.register import RegisterMetrics


class ApiResources(Protocol):
    """What the API's routers need; :class:`meldingshub.wiring.Resources` has it."""

    @property
    def settings(self) -> Settings: ...

    @property
    def register(self) -> RegisterView: ...

    @property
    def register_metrics(self) -> RegisterMetrics: ...

    @property
    def store(self) -> StatisticsStore: ...

    @property
    def mailbox(self) -> MailboxStore: ...

    @property
    def principals(self) -> PrincipalsFile: ...

    @property
    def gate(self) -> Gate: ...

    @property
    def bootstrap_servers(self) -> str: ...

    @property
    def registry(self) -> CollectorRegistry: ...

    @property
    def checks(self) -> dict[str, Callable[[], bool]]: ...
