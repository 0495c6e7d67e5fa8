"""Errors of the delivery adapters (configuration and wiring, not failed deliveries).

A failed delivery attempt is data (:class:`broker_adapters.delivery.base.Failed`),
never an exception: it is retried, or given up with an X99 AppRec.
"""

from hubcore.errors import MeldingshubError


class DeliveryError(MeldingshubError):
    """Base of the delivery adapters' errors."""


class MailboxError(DeliveryError):
    """The mailbox store cannot be read or written."""
