"""The envelope reader: from a parsed message to a typed, immutable :class:`Envelope`.

It reads what routing, statistics and AppRec need — family, type, ids, dates,
parties at their levels, payload and attachments — from MsgHead messages and
from the basis ``Message`` and ``AppRec`` roots alike, as far as the document
allows (a rejected message still yields what could be read, so the hub can
answer it). Patient identifiers are never part of an :class:`Envelope`; callers
that need them ask :func:`patient_identifiers` explicitly.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree

from schemas.attachments import Base64Text, measure
from schemas.catalogue import Catalogue, CatalogueEntry, Classification, PartyLayout
from schemas.catalogue_data import MSGHEAD_NAMESPACE
from schemas.identifiers import parse_her_id
from schemas.parties import PartyRef
from schemas.vocabulary import AppRecStatus, Family

_NO_PARTY = PartyRef()
_APPREC_STATUS = {status.value: status for status in AppRecStatus}


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the hub knows about a message without looking at patient data.

    Every field is a code, an id of a message or an organisation, a date or a
    count, so ``repr()`` and log output are safe.
    """

    family: Family
    message_type: str | None
    """MsgInfo/Type (kodeverk 8279), basis Type (or short code E/H/R/S), AppRec MsgType."""
    standard: str
    version: str
    msg_id: str | None
    gen_date: str | None
    mig_version: str | None
    conversation_parent: str | None
    conversation_ref: str | None
    ack_requested: bool
    sender: PartyRef
    receiver: PartyRef
    copy_receivers: tuple[PartyRef, ...]
    root_name: str
    root_namespace: str
    payload_root: str | None
    payload_namespace: str | None
    attachment_count: int
    attachment_sizes: tuple[int | None, ...]
    """Decoded size of each base64 attachment; ``None`` where only re-serialising would tell."""
    is_msghead: bool
    apprec_version: Literal["1.0", "1.1"] | None
    """The AppRec version that answers this message (``None`` for AppRec and unknown types)."""
    apprec_status: AppRecStatus | None = None
    apprec_status_code: str | None = None
    """The raw Status/@V of an AppRec, also when it is not a code of kodeverk 8258."""
    apprec_error_codes: tuple[str, ...] = ()
    original_msg_id: str | None = None
    original_msg_type: str | None = None
    unknown_reason: str | None = None
    """Why the message classified as ``other`` or did not match its standard."""


@dataclass(frozen=True, slots=True)
class EnvelopeReading:
    """An envelope with the catalogue classification it was read under."""

    envelope: Envelope
    classification: Classification
    payload: etree._Element | None = field(repr=False)
    """The payload element (MsgHead) or the root (basis, AppRec); for validation only."""
    attachments: tuple[Base64Text, ...] = field(default=(), repr=False, compare=False)
    """The MsgHead's base64 attachments that hold only text: the validator checks these
    itself (:mod:`schemas.attachments`)."""


def _split(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        namespace, _, local = tag[1:].partition("}")
        return namespace, local
    return "", tag


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip(" \t\r\n") or None  # XML whitespace only, never Unicode spaces


class _Reader:
    """Navigation helpers bound to one namespace (every standard qualifies its elements).

    One reader serves one document: the children of each element it visits are indexed
    by tag once, because the envelope asks the same few elements (MsgInfo, Organisation,
    Ident) for a dozen children each, and every lxml child search costs a microsecond.
    """

    __slots__ = ("_idents", "_index", "ns")

    def __init__(self, namespace: str) -> None:
        self.ns = "{" + namespace + "}" if namespace else ""
        self._index: dict[etree._Element, dict[object, list[etree._Element]]] = {}
        self._idents: dict[etree._Element, list[tuple[str | None, str | None]]] = {}

    def _children_by_tag(self, element: etree._Element) -> dict[object, list[etree._Element]]:
        index = self._index.get(element)
        if index is None:
            index = self._index[element] = {}
            for child in element:
                found = index.get(child.tag)
                if found is None:
                    index[child.tag] = [child]
                else:
                    found.append(child)
        return index

    def child(self, element: etree._Element | None, name: str) -> etree._Element | None:
        if element is None:
            return None
        found = self._children_by_tag(element).get(self.ns + name)
        return found[0] if found else None

    def children(self, element: etree._Element | None, name: str) -> Sequence[etree._Element]:
        if element is None:
            return ()
        return self._children_by_tag(element).get(self.ns + name, ())

    def text(self, element: etree._Element | None, name: str) -> str | None:
        return _text(self.child(element, name))

    def code(self, element: etree._Element | None, name: str) -> str | None:
        found = self.child(element, name)
        if found is None:
            return None
        value = found.get("V")
        return value.strip() if value else None

    def text_or_v(self, element: etree._Element | None, name: str) -> str | None:
        """Basis messages put dates either as text or in ``@V``."""
        found = self.child(element, name)
        if found is None:
            return None
        return _text(found) or (found.get("V") or "").strip() or None

    # --- MsgHead Organisation tree ----------------------------------------------------------
    def ident_pairs(self, element: etree._Element | None) -> list[tuple[str | None, str | None]]:
        """(TypeId/@V, Id) of each Ident of an Organisation or professional, read once."""
        if element is None:
            return []
        pairs = self._idents.get(element)
        if pairs is None:
            pairs = self._idents[element] = [
                (self.code(ident, "TypeId"), self.text(ident, "Id"))
                for ident in self.children(element, "Ident")
            ]
        return pairs

    def idents(self, element: etree._Element | None) -> dict[str, str]:
        """TypeId/@V -> Id for the Ident elements of an Organisation or professional."""
        found: dict[str, str] = {}
        for kind, value in self.ident_pairs(element):
            if kind and value and kind not in found:
                found[kind] = value
        return found

    def ambiguous_idents(self, element: etree._Element | None) -> bool:
        """More than one id of a kind, or a HER/ENH id in another spelling or not valid."""
        seen: set[str] = set()
        for code, value in self.ident_pairs(element):
            kind = code or ""
            if kind.upper() not in ("HER", "ENH"):
                continue
            if kind not in ("HER", "ENH") or kind in seen:
                return True
            if kind == "HER" and parse_her_id(value) is None:
                return True
            seen.add(kind)
        return False

    def ambiguous_organisation(self, holder: etree._Element | None) -> bool:
        """The MsgHead sender tree states a level twice, nests deeper than two levels, or
        carries ids that could be read another way."""
        organisations = self.children(holder, "Organisation")
        if len(organisations) > 1:
            return True
        if not organisations:
            professionals = self.children(holder, "HealthcareProfessional")
            return len(professionals) > 1 or any(self.ambiguous_idents(p) for p in professionals)
        organisation = organisations[0]
        units = self.children(organisation, "Organisation")
        people = self.children(organisation, "HealthcareProfessional")
        for unit in units:
            people = [*people, *self.children(unit, "HealthcareProfessional")]
            if self.children(unit, "Organisation"):
                return True
        return (
            len(units) > 1
            or len(people) > 1
            or any(self.ambiguous_idents(e) for e in [organisation, *units, *people])
        )

    def organisation_party(self, holder: etree._Element | None) -> PartyRef:
        ambiguous = self.ambiguous_organisation(holder)
        organisation = self.child(holder, "Organisation")
        if organisation is None:
            professional = self.child(holder, "HealthcareProfessional")
            if professional is None:
                return _NO_PARTY
            return PartyRef(
                person_her_id=parse_her_id(self.idents(professional).get("HER")),
                ambiguous=ambiguous,
            )
        level1 = self.idents(organisation)
        unit = self.child(organisation, "Organisation")
        professional = self.child(organisation, "HealthcareProfessional")
        if professional is None:
            professional = self.child(unit, "HealthcareProfessional")
        return PartyRef(
            ambiguous=ambiguous,
            organisation_her_id=parse_her_id(level1.get("HER")),
            service_her_id=parse_her_id(self.idents(unit).get("HER")) if unit is not None else None,
            person_her_id=(
                parse_her_id(self.idents(professional).get("HER"))
                if professional is not None
                else None
            ),
            organisation_number=level1.get("ENH"),
        )

    # --- HCP structure of basis messages and AppRec ----------------------------------------
    def hcp_ids(self, element: etree._Element | None) -> dict[str, str]:
        """Id/TypeId plus AdditionalId entries (where real AppRecs put the HER-id)."""
        found: dict[str, str] = {}
        kind = self.code(element, "TypeId")
        value = self.text(element, "Id")
        if kind and value:
            found[kind] = value
        for additional in self.children(element, "AdditionalId"):
            extra_kind = self.code(additional, "Type")
            extra_value = self.text(additional, "Id")
            if extra_kind and extra_value and extra_kind not in found:
                found[extra_kind] = extra_value
        return found

    def ambiguous_hcp_ids(self, element: etree._Element | None) -> bool:
        """Two HER-ids on one HCP level (Id and AdditionalId), or one spelled or formed oddly."""
        pairs = [(self.code(element, "TypeId"), self.text(element, "Id"))]
        pairs += [
            (self.code(extra, "Type"), self.text(extra, "Id"))
            for extra in self.children(element, "AdditionalId")
        ]
        her = [(kind, value) for kind, value in pairs if (kind or "").upper() == "HER"]
        return len(her) > 1 or any(
            kind != "HER" or parse_her_id(value) is None for kind, value in her
        )

    def ambiguous_hcp(self, holder: etree._Element | None) -> bool:
        """The basis sender tree states a level twice or carries ids read another way."""
        hcps = self.children(holder, "HCP")
        if len(hcps) > 1:
            return True
        hcp = hcps[0] if hcps else None
        levels = [*self.children(hcp, "Inst"), *self.children(hcp, "HCProf")]
        if len(levels) > 1:
            return True
        for institution in self.children(hcp, "Inst"):
            depts = self.children(institution, "Dept")
            people = self.children(institution, "HCPerson")
            if len(depts) > 1 or len(people) > 1:
                return True
            levels += [*depts, *people]
        return any(self.ambiguous_hcp_ids(level) for level in levels)

    def hcp_party(self, holder: etree._Element | None) -> PartyRef:
        hcp = self.child(holder, "HCP")
        institution = self.child(hcp, "Inst")
        ambiguous = self.ambiguous_hcp(holder)
        if institution is None:
            professional = self.child(hcp, "HCProf")
            if professional is None:
                return _NO_PARTY
            return PartyRef(
                person_her_id=parse_her_id(self.hcp_ids(professional).get("HER")),
                ambiguous=ambiguous,
            )
        level1 = self.hcp_ids(institution)
        department = self.child(institution, "Dept")
        person = self.child(institution, "HCPerson")
        return PartyRef(
            ambiguous=ambiguous,
            organisation_her_id=parse_her_id(level1.get("HER")),
            service_her_id=parse_her_id(self.hcp_ids(department).get("HER"))
            if department is not None
            else None,
            person_her_id=parse_her_id(self.hcp_ids(person).get("HER"))
            if person is not None
            else None,
            organisation_number=level1.get("ENH"),
        )

    def parties(
        self, root: etree._Element, layout: PartyLayout
    ) -> tuple[PartyRef, PartyRef, tuple[PartyRef, ...]]:
        container = self.child(root, layout.container) if layout.container else root
        read = self.organisation_party if layout.style == "organisation" else self.hcp_party
        copies: tuple[PartyRef, ...] = ()
        if layout.copies:
            copies = tuple(
                party
                for party in (read(copy) for copy in self.children(container, layout.copies))
                if party != _NO_PARTY
            )
        return (
            read(self.child(container, layout.sender)),
            read(self.child(container, layout.receiver)),
            copies,
        )


def _first_element(element: etree._Element | None) -> etree._Element | None:
    if element is None:
        return None
    for child in element:
        if isinstance(child.tag, str):
            return child
    return None


def _attachment(reader: _Reader, document: etree._Element) -> tuple[int | None, Base64Text | None]:
    content = reader.child(reader.child(document, "RefDoc"), "Content")
    body = _first_element(content)
    if body is None or _split(body.tag)[1] != "Base64Container":
        return None, None
    return measure(body)


def read_envelope(root: etree._Element, catalogue: Catalogue) -> EnvelopeReading:
    """Read the envelope of a parsed message; never raises for odd documents."""
    namespace, local = _split(root.tag)
    if namespace == MSGHEAD_NAMESPACE and local == "MsgHead":
        return _read_msghead(root, catalogue)
    reader = _Reader(namespace)
    type_element = "MsgType" if local == "AppRec" else "Type"
    message_type = reader.code(root, type_element)
    classification = catalogue.classify(message_type, namespace)
    entry = classification.entry
    if entry is not None and (entry.container == "msghead" or local not in entry.payload_roots):
        entry = None
        classification = Classification(  # a bare payload keeps its family; refused T10
            None,
            classification.family,
            classification.standard,
            classification.version,
            f"root element {local} is not how {classification.standard} messages arrive",
        )
    sender, receiver, copies = (
        reader.parties(root, entry.parties) if entry else (_NO_PARTY, _NO_PARTY, ())
    )
    is_apprec = entry is not None and entry.container == "apprec"
    original = reader.child(root, "OriginalMsgId") if is_apprec else None
    status_code = reader.code(root, "Status") if is_apprec else None
    envelope = Envelope(
        family=classification.family,
        message_type=message_type,
        standard=classification.standard,
        version=classification.version,
        msg_id=reader.text(root, "Id" if is_apprec else "MsgId"),
        gen_date=reader.text_or_v(root, "GenDate"),
        mig_version=reader.text(root, "MIGversion"),
        conversation_parent=None,
        conversation_ref=None,
        ack_requested=False,
        sender=sender,
        receiver=receiver,
        copy_receivers=copies,
        root_name=local,
        root_namespace=namespace,
        payload_root=local,
        payload_namespace=namespace,
        attachment_count=0,
        attachment_sizes=(),
        is_msghead=False,
        apprec_version=entry.apprec_version if entry else None,
        apprec_status=_APPREC_STATUS.get(status_code or ""),
        apprec_status_code=status_code,
        apprec_error_codes=tuple(
            code for code in (error.get("V") for error in reader.children(root, "Error")) if code
        )
        if is_apprec
        else (),
        original_msg_id=reader.text(original, "Id"),
        original_msg_type=reader.code(original, "MsgType"),
        unknown_reason=classification.reason,
    )
    return EnvelopeReading(envelope, classification, root)


def _read_msghead(root: etree._Element, catalogue: Catalogue) -> EnvelopeReading:
    reader = _Reader(MSGHEAD_NAMESPACE)
    info = reader.child(root, "MsgInfo")
    message_type = reader.code(info, "Type")
    documents = reader.children(root, "Document")
    payload = (
        _first_element(reader.child(reader.child(documents[0], "RefDoc"), "Content"))
        if documents
        else None
    )
    payload_namespace, payload_root = _split(payload.tag) if payload is not None else ("", "")
    classification = catalogue.classify(message_type, payload_namespace or None)
    entry: CatalogueEntry | None = classification.entry
    if entry is not None and entry.container != "msghead":
        entry = None
        classification = Classification(
            None,
            Family.OTHER,
            classification.standard,
            classification.version,
            f"{classification.standard} messages do not arrive in MsgHead",
        )
    sender = reader.organisation_party(reader.child(info, "Sender"))
    receiver = reader.organisation_party(reader.child(info, "Receiver"))
    copies = tuple(
        party
        for party in (
            reader.organisation_party(other) for other in reader.children(info, "OtherReceiver")
        )
        if party != _NO_PARTY
    )
    conversation = reader.child(info, "ConversationRef")
    attachments = [_attachment(reader, document) for document in documents[1:]]
    envelope = Envelope(
        family=classification.family,
        message_type=message_type,
        standard=classification.standard,
        version=classification.version,
        msg_id=reader.text(info, "MsgId"),
        gen_date=reader.text(info, "GenDate"),
        mig_version=reader.text(info, "MIGversion"),
        conversation_parent=reader.text(conversation, "RefToParent"),
        conversation_ref=reader.text(conversation, "RefToConversation"),
        ack_requested=reader.code(info, "Ack") == "J",
        sender=sender,
        receiver=receiver,
        copy_receivers=copies,
        root_name="MsgHead",
        root_namespace=MSGHEAD_NAMESPACE,
        payload_root=payload_root or None,
        payload_namespace=payload_namespace or None,
        attachment_count=max(len(documents) - 1, 0),
        attachment_sizes=tuple(size for size, _ in attachments),
        is_msghead=True,
        apprec_version=entry.apprec_version if entry else None,
        unknown_reason=classification.reason,
    )
    plain = tuple(text for _, text in attachments if text is not None)
    return EnvelopeReading(envelope, classification, payload, plain)


def patient_identifiers(root: etree._Element) -> tuple[tuple[str, str], ...]:
    """(TypeId, Id) of the patient(s) a message names: for callers that truly need them.

    Never log or count these; they are fødselsnumre and similar.
    """
    namespace, local = _split(root.tag)
    reader = _Reader(namespace)
    found: list[tuple[str, str]] = []
    if local == "MsgHead":
        patient = reader.child(reader.child(root, "MsgInfo"), "Patient")
        for ident in reader.children(patient, "Ident"):
            value = reader.text(ident, "Id")
            if value:
                found.append((reader.code(ident, "TypeId") or "", value))
    else:
        for container in root:
            patient = reader.child(container, "Patient")
            value = reader.text(patient, "OffId")
            if value:
                found.append((reader.code(patient, "TypeOffId") or "", value))
    return tuple(found)
