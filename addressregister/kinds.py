"""The closed sets of the party model: what kind a party is, and how it receives.

Their own module so that validation can use them without importing the model that
calls validation.
"""

from enum import StrEnum


class PartyKind(StrEnum):
    """Party types of the address register (section 4 of the domain facts)."""

    ORGANISATION = "organisation"
    DEPARTMENT = "department"
    SERVICE = "service"
    PERSON = "person"


class EndpointKind(StrEnum):
    """How the hub delivers to a party."""

    AMQP = "amqp"
    """A queue on the AMQP broker; the address is the queue name (``<HerId>_async``)."""
    MAILBOX = "mailbox"
    """HTTP pull from the hub's mailbox; the address is the mailbox name."""
    WEBHOOK = "webhook"
    """HTTPS push; the address is the URL."""
    KAFKA = "kafka"
    """A Kafka topic per receiver; the address is the topic name."""
    FILE = "file"
    """A file outbox; the address is a relative directory under the hub's outbox root."""
