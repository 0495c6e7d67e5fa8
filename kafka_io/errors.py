"""Errors of the Kafka layer."""

from hubcore.errors import MeldingshubError
from kafka_io.classify import PermanentKind


class KafkaLayerError(MeldingshubError):
    """Base of the Kafka layer's errors."""


class BrokerUnreachableError(KafkaLayerError):
    """No broker answered a metadata request in time."""


class DeliveryFailedError(KafkaLayerError):
    """The broker did not durably accept a record (acks=all was not reached)."""


class TopicSetupError(KafkaLayerError):
    """A hub topic could not be created or has the wrong shape."""


class RecordRefusedError(DeliveryFailedError):
    """The broker (or the client, before sending) refused a record for what it is.

    Sending it again unchanged fails the same way, so the sender is refused, not retried.
    ``kind`` is ``too_large`` or ``invalid``.
    """

    def __init__(self, kind: PermanentKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
