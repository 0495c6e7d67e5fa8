"""HTTP mailbox endpoint (pull): store the message for its receiver, who fetches it over HTTP.

Shaped after NHN's message server: delivering means the message is durably in
the mailbox table; the receiver lists, fetches and marks it read through
:mod:`broker_adapters.delivery.mailbox_api`. Storing is idempotent (the row id
is derived from the hub message id and the receiver), so a retry after a crash
keeps one copy.
"""

from addressregister.model import EndpointKind
from broker_adapters.delivery.base import Attempt, DeliveryEndpoint, Failed, HandedOver, Handover
from broker_adapters.delivery.errors import MailboxError
from broker_adapters.delivery.mailbox_store import MailboxStore


class MailboxEndpoint(DeliveryEndpoint):
    """Writes to the mailbox store; the address (the mailbox name) is informational."""

    kind = EndpointKind.MAILBOX

    def __init__(self, store: MailboxStore) -> None:
        self._store = store

    def deliver(self, handover: Handover) -> Attempt:
        """Store the message under its receiver's HER-id."""
        try:
            self._store.put(handover.message)
        except MailboxError as exc:
            return Failed(str(exc))
        return HandedOver()
