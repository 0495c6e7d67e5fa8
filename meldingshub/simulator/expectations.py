"""What the hub must do with each simulated document: the export cells it counts in.

An :class:`Outgoing` is one document to send with its :class:`Expectation`: the
statistics export cells (:class:`Dims` and :data:`Column`) it must be counted in,
and the AppRec code it must be rejected with, if any.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.vocabulary import AddressingMode, Family

Column = Literal[
    "accepted", "routed", "rejected", "duplicates", "apprec_ok", "apprec_rejected",
    "apprec_ok_error_in_part",
]  # fmt: skip

APPREC_COLUMN: dict[str, Column] = {
    "1": "apprec_ok",
    "2": "apprec_rejected",
    "3": "apprec_ok_error_in_part",
}


@dataclass(frozen=True, slots=True)
class Dims:
    """One cell of the statistics export (its dimensions), as the hub must count a message."""

    family: str
    message_type: str
    sender_category: str
    receiver_category: str
    addressing_mode: str


UNREADABLE = Dims(Family.OTHER.value, "UNKNOWN", "ukjent", "ukjent", AddressingMode.NONE.value)
"""Where the hub counts a document it cannot read."""


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the hub must do with one document."""

    kind: str
    """``message``, ``apprec`` or a :class:`FaultKind`."""
    family: str
    message_type: str
    counts: tuple[tuple[Dims, Column], ...]
    """Export cells (on the day of ingress) and the column each counts in."""
    reason_code: str | None = None
    """The AppRec error code of the router's rejection."""
    hub_apprec_to: str | None = None
    """Category of the organisation the hub's negative AppRec goes to, if it sends one."""
    ingress_refusal: str | None = None
    """Why an ingress adapter that screens documents refuses it (HTTP, AMQP, file)."""
    addressing_mode: str = AddressingMode.NONE.value
    sender_category: str = "ukjent"
    receiver_category: str = "ukjent"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One document to send, who sends it, when the hub receives it and what must happen."""

    raw: bytes = field(repr=False)
    principal: str
    received_at: datetime
    """Ingress time (UTC); adapters that stamp their own use theirs."""
    hub_message_id: UUID
    sender_her_id: int | None
    """The sender organisation the document names (transports that need it, e.g. AMQP)."""
    expectation: Expectation
