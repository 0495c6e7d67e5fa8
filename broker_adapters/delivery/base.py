"""The one interface every delivery endpoint implements, and the values it takes and returns.

An endpoint gets a :class:`Handover` (the routed message and the receiver's
address from the register) and answers :class:`HandedOver` or :class:`Failed`;
it never raises for a receiver's fault. An endpoint that writes to Kafka
returns its records instead of producing them, so they go out in the delivery
transaction (exactly once); every other endpoint has a side effect the
transaction cannot cover, and carries the idempotency key so the receiver can
drop the duplicates a crash may cause.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from addressregister.model import EndpointKind
from kafka_io import OutRecord
from schemas.records import RoutedMessage


@dataclass(frozen=True, slots=True)
class Handover:
    """One attempt to hand a routed message to its receiver."""

    message: RoutedMessage
    address: str
    """The endpoint address from the receiving party's register entry (may be empty)."""
    attempt: int
    """Starting at 1."""

    @property
    def receiver_her_id(self) -> int:
        """The HER-id the message is addressed to; an endpoint delivers to it only."""
        return self.message.receiver_her_id

    @property
    def idempotency_key(self) -> str:
        """The same on every attempt of this message to this receiver: ``<hub id>:<HER-id>``."""
        return f"{self.message.hub_message_id}:{self.message.receiver_her_id}"

    @property
    def message_id(self) -> str:
        """The sender's MsgId, or the hub message id when the message has none."""
        return self.message.msg_id or str(self.message.hub_message_id)


@dataclass(frozen=True, slots=True)
class HandedOver:
    """The receiver's side has the message (or will, when ``records`` are committed)."""

    records: tuple[OutRecord, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Failed:
    """The attempt failed; ``permanent`` failures are not retried.

    ``reason`` is safe text for events and logs: a status code, an error class,
    never the document or a response body.
    """

    reason: str
    permanent: bool = False


Attempt = HandedOver | Failed


class DeliveryEndpoint(ABC):
    """A way of handing messages to receivers (one instance serves every receiver of a kind)."""

    kind: ClassVar[EndpointKind]
    transactional: ClassVar[bool] = False
    """True when a delivery is part of the Kafka transaction (no duplicate after a crash)."""

    @abstractmethod
    def deliver(self, handover: Handover) -> Attempt:
        """Hand the message over; return the outcome instead of raising."""

    def close(self) -> None:  # noqa: B027 - most endpoints hold nothing to release
        """Release connections; called once when the worker stops."""
