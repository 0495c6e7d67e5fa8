"""The one OpenAPI document of every HTTP API the hub serves, committed as
``meldingshub/openapi.json``.

Built by :func:`meldingshub.api_app.api_app` with every part, over stand-ins that never
touch Kafka or a database, so it is what ``meldingshub run`` serves at ``/openapi.json``
(a test compares the two). Regenerate after changing an API:
``.venv/bin/python -m meldingshub.openapi``.
"""

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from access.principals import Principals
from access.principals_file import PrincipalsFile
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.ingress.base import Outcome, RefusalReason, Refused, Submission
from broker_adapters.ingress.budget import ByteBudget
from broker_adapters.ingress.settings import IngressSettings
from hubstats.store import StatisticsStore
from meldingshub.api_app import ALL_PARTS, api_app
from meldingshub.settings import Settings
from metrics.register import RegisterMetrics

COMMITTED = Path(__file__).with_name("openapi.json")


class _NoGate:
    """Stands in for the ingress gate: the document depends on the routes only."""

    settings = IngressSettings()
    limits = Settings().schemas.parse_limits()
    bodies = ByteBudget(settings.in_flight_bytes)

    def submit(self, submission: Submission) -> Outcome:
        return Refused(RefusalReason.BROKER_UNAVAILABLE, "documentation only")

    def count_received(self, adapter: str) -> None:
        return None

    def count_refused(self, adapter: str, refused: Refused) -> None:
        return None


class _DocumentResources:
    """Every resource the API uses, as an empty stand-in."""

    def __init__(self, directory: Path) -> None:
        dsn = f"sqlite:///{directory / 'openapi.sqlite3'}"
        self.settings = Settings()
        self.register = StaticRegister(RegisterIndex.empty())
        self.register_metrics = RegisterMetrics(CollectorRegistry())
        self.store = StatisticsStore.open(dsn)
        self.mailbox = MailboxStore.open(dsn)
        self.principals = PrincipalsFile.fixed(Principals.open())
        self.gate = _NoGate()
        self.bootstrap_servers = ""
        self.registry = CollectorRegistry()
        self.checks: dict[str, Callable[[], bool]] = {}


def api_openapi() -> dict[str, Any]:
    """The OpenAPI document of the hub's whole API application."""
    with tempfile.TemporaryDirectory() as directory:
        resources = _DocumentResources(Path(directory))
        try:
            return api_app(resources, ALL_PARTS).openapi()
        finally:
            resources.store.close()


def render(document: dict[str, Any]) -> str:
    """The committed form: indented, keys in generation order, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    COMMITTED.write_text(render(api_openapi()), encoding="utf-8")
    print(f"wrote {COMMITTED}")
