"""The one ingress interface: what every transport adapter promises, and the shapes it passes.

An adapter authenticates the connecting system to a principal, refuses only
what is not a message at all, has the raw bytes plus transport metadata written
to ``hub.inbound`` with acks=all (through :class:`~broker_adapters.ingress.gate.IngressGate`),
and only then acknowledges to the sender. Refusals are data
(:class:`Refused`), never exceptions, so each transport answers in its own way:
an HTTP status, an AMQP error queue, a ``failed/`` folder, a dead-letter record.
"""

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar
from uuid import UUID

from access.principals import Principal
from broker_adapters.ingress.settings import AdapterName
from schemas.outcomes import RefusalReason as RefusalReason  # its home is the vocabulary
from schemas.vocabulary import INGRESS_ADAPTERS

ADAPTERS: tuple[AdapterName, ...] = INGRESS_ADAPTERS
"""Every ingress adapter; the closed set of the ``adapter`` metric label."""


@dataclass(frozen=True, slots=True)
class Submission:
    """One message as a transport received it, before anything is written."""

    raw: bytes = field(repr=False)
    principal: Principal
    adapter: AdapterName
    received_at: datetime
    transport_message_id: str | None = None
    content_type: str | None = None
    claimed_sender_her_id: int | None = None
    """A sender HER-id the transport states beside the document (AMQP ``fromHerId``)."""
    source_system: str | None = None
    """The client system as it named itself (MSH API ``nhn-source-system``), sanitised."""

    def __repr__(self) -> str:
        """Ids and sizes only: the bytes may hold patient data."""
        return (
            f"Submission(adapter={self.adapter}, principal={self.principal.name!r}, "
            f"size={len(self.raw)}, transport_message_id={self.transport_message_id!r})"
        )


@dataclass(frozen=True, slots=True)
class Accepted:
    """Durably written to ``hub.inbound``: the sender may be told so."""

    hub_message_id: UUID
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class Refused:
    """Not written; ``detail`` says why in words safe to return to the sender and to log."""

    reason: RefusalReason
    detail: str

    @property
    def transient(self) -> bool:
        """True when the same message may succeed later unchanged (the broker was down)."""
        return self.reason is RefusalReason.BROKER_UNAVAILABLE


Outcome = Accepted | Refused


class IngressAdapter(ABC):
    """A transport that hands messages to the hub; a hub component (name, run, ready)."""

    name: ClassVar[str]
    transport: ClassVar[AdapterName]
    """Its value of the ``adapter`` metric label."""

    @abstractmethod
    def run(self, stop: threading.Event) -> None:
        """Receive until ``stop`` is set; acknowledge a message only after its durable write."""

    @abstractmethod
    def ready(self) -> bool:
        """True while the adapter can take messages (the readiness probe asks this)."""
