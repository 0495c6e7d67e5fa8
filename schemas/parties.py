"""The routing part of a sender or receiver: HER-ids at their levels, nothing about patients."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PartyRef:
    """Who a message names as sender or receiver, as the address register needs it.

    Level 1 is the organisation; level 2 is either a service/department of it
    (service-based addressing) or a person (e.g. a GP) under it.
    """

    organisation_her_id: int | None = None
    service_her_id: int | None = None
    person_her_id: int | None = None
    organisation_number: str | None = None
    """The organisation's ENH (9-digit organisation number), when the document carries one."""
    ambiguous: bool = False
    """The document states this party in more than one way (two HER-ids at one level, an id
    that is not one, a level repeated or nested deeper): a receiving system could read a
    different party than the hub did, so a sender like this is never authorised."""
