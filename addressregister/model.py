"""The party model: immutable values that are valid by construction.

Every :class:`CommunicationParty` is checked by :mod:`addressregister.validation`
when it is created, so whoever holds one (the index, the router, the API) never
has to check it again.
"""

from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any

from addressregister.kinds import EndpointKind, PartyKind
from addressregister.validation import PartyValidationError, check_party
from schemas.vocabulary import Category

__all__ = [
    "CommunicationParty",
    "Endpoint",
    "EndpointKind",
    "MessageProfile",
    "PartyKind",
]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how messages for a party are delivered."""

    kind: EndpointKind
    address: str


@dataclass(frozen=True, slots=True)
class MessageProfile:
    """One message type of a collaboration profile and the versions of it.

    An empty ``versions`` means every version of the type.
    """

    message_type: str
    versions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommunicationParty:
    """One communication party: organisation, department, service or person.

    ``receives`` and ``sends`` are the collaboration profile; a party that declares
    none inherits its parent's, and a party without an endpoint receives through
    its nearest ancestor that has one (a GP through the practice).
    """

    her_id: int
    kind: PartyKind
    name: str
    parent_her_id: int | None = None
    organisation_number: str | None = None
    municipality: str | None = None
    business_type: str | None = None
    """Kodeverk 9040 (101 helseforetak, 102 kommune, 103 fastlege, ...)."""
    service_code: str | None = None
    service_code_list: str | None = None
    """The code list of ``service_code`` (8663, 8668, 8660, ...)."""
    hpr_number: str | None = None
    active: bool = True
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    """Exclusive end of validity."""
    receives: tuple[MessageProfile, ...] = ()
    sends: tuple[MessageProfile, ...] = ()
    endpoint: Endpoint | None = None
    certificate_thumbprints: tuple[str, ...] = ()
    category: Category = field(default=Category.UKJENT, compare=False)
    """Derived by :class:`addressregister.index.RegisterIndex` from the category table;
    never read from input (files and topic records do not carry it)."""

    def __post_init__(self) -> None:

        errors = check_party(self)
        if errors:
            raise PartyValidationError(errors)


def unchecked_party(**values: Any) -> CommunicationParty:
    """A party built without validation, only to collect every rule it breaks at once."""
    party = object.__new__(CommunicationParty)
    for name in CommunicationParty.__slots__:
        default = _DEFAULTS.get(name)
        object.__setattr__(party, name, values.get(name, default))
    return party


def with_category(party: CommunicationParty, category: Category) -> CommunicationParty:
    """The same party with its derived category set, for the index.

    Only the derived field differs, so the copy skips validation (building an index
    of the national register would otherwise validate every party twice).
    """
    derived = object.__new__(CommunicationParty)
    for name in CommunicationParty.__slots__:
        object.__setattr__(derived, name, getattr(party, name))
    object.__setattr__(derived, "category", category)
    return derived


_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(CommunicationParty) if f.default is not MISSING
}
