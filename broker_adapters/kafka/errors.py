"""Errors of the Kafka layer."""

from meldingshub.errors import MeldingshubError


class KafkaLayerError(MeldingshubError):
    """Base of the Kafka layer's errors."""


class BrokerUnreachableError(KafkaLayerError):
    """No broker answered a metadata request in time."""


class DeliveryFailedError(KafkaLayerError):
    """The broker did not durably accept a record (acks=all was not reached)."""


class TopicSetupError(KafkaLayerError):
    """A hub topic could not be created or has the wrong shape."""
