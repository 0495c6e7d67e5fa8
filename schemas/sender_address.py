"""The sender's full address as a document states it, for the AppRec that answers it.

An AppRec's ``Receiver`` echoes the original sender at every level it named —
organisation, department or service, person — so the sender's EPJ can show and
file the receipt where the message came from. The routing envelope keeps only
HER-ids; this reader adds the names and ids, and is called only when the hub
writes an AppRec. Names of organisations and health personnel are kept out of
``repr()`` all the same, and a person's national id (FNR, DNR) is never read.
"""

from dataclasses import dataclass, field

from lxml import etree

from schemas.catalogue import Catalogue, default_catalogue
from schemas.catalogue_data import MSGHEAD_NAMESPACE
from schemas.envelope import _Reader, _split
from schemas.errors import MessageRejectedError
from schemas.xmlparse import ParseLimits, parse_message

PERSON_ID_TYPES = ("HER", "HPR")
"""Person ids an AppRec may echo: never a fødselsnummer or D-nummer."""


@dataclass(frozen=True, slots=True)
class AddressLevel:
    """One level of an address: its name and its ids (``(type, id)``, HER-id first)."""

    name: str | None = field(repr=False)
    ids: tuple[tuple[str, str], ...] = ()

    def id_of(self, kind: str) -> str | None:
        """The id of type ``kind`` at this level, if stated."""
        return next((value for typ, value in self.ids if typ == kind), None)


@dataclass(frozen=True, slots=True)
class SenderAddress:
    """Organisation, then a department or service under it, then a person, as stated."""

    organisation: AddressLevel | None
    unit: AddressLevel | None = None
    person: AddressLevel | None = None


def _ordered(
    ids: dict[str, str], allowed: tuple[str, ...] | None = None
) -> tuple[tuple[str, str], ...]:
    pairs = [(kind, value) for kind, value in ids.items() if allowed is None or kind in allowed]
    return tuple(sorted(pairs, key=lambda pair: pair[0] != "HER"))


def _person_name(reader: _Reader, professional: etree._Element) -> str | None:
    parts = [reader.text(professional, tag) for tag in ("GivenName", "MiddleName", "FamilyName")]
    return " ".join(part for part in parts if part) or None


def _msghead_address(root: etree._Element) -> SenderAddress | None:
    reader = _Reader(MSGHEAD_NAMESPACE)
    holder = reader.child(reader.child(root, "MsgInfo"), "Sender")
    organisation = reader.child(holder, "Organisation")
    if organisation is None:
        return None
    unit = reader.child(organisation, "Organisation")
    professional = reader.child(organisation, "HealthcareProfessional")
    if professional is None:
        professional = reader.child(unit, "HealthcareProfessional")
    return SenderAddress(
        AddressLevel(
            reader.text(organisation, "OrganisationName"), _ordered(reader.idents(organisation))
        ),
        AddressLevel(reader.text(unit, "OrganisationName"), _ordered(reader.idents(unit)))
        if unit is not None
        else None,
        AddressLevel(
            _person_name(reader, professional),
            _ordered(reader.idents(professional), PERSON_ID_TYPES),
        )
        if professional is not None
        else None,
    )


def _hcp_address(root: etree._Element, catalogue: Catalogue) -> SenderAddress | None:
    namespace, local = _split(root.tag)
    found = catalogue.by_namespace(namespace)
    if found is None or found[0].parties.style != "hcp" or local not in found[0].payload_roots:
        return None
    layout = found[0].parties
    reader = _Reader(namespace)
    container = reader.child(root, layout.container) if layout.container else root
    institution = reader.child(reader.child(reader.child(container, layout.sender), "HCP"), "Inst")
    if institution is None:
        return None
    department = reader.child(institution, "Dept")
    person = reader.child(institution, "HCPerson")
    return SenderAddress(
        AddressLevel(reader.text(institution, "Name"), _ordered(reader.hcp_ids(institution))),
        AddressLevel(reader.text(department, "Name"), _ordered(reader.hcp_ids(department)))
        if department is not None
        else None,
        AddressLevel(reader.text(person, "Name"), _ordered(reader.hcp_ids(person), PERSON_ID_TYPES))
        if person is not None
        else None,
    )


def read_sender_address(
    raw: bytes, limits: ParseLimits, catalogue: Catalogue | None = None
) -> SenderAddress | None:
    """The sender's address in ``raw`` (MsgHead or a basis/AppRec root); None if unreadable."""
    try:
        root = parse_message(raw, limits)
    except MessageRejectedError:
        return None
    namespace, local = _split(root.tag)
    if namespace == MSGHEAD_NAMESPACE and local == "MsgHead":
        return _msghead_address(root)
    return _hcp_address(root, catalogue or default_catalogue())
