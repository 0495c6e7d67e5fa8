"""Valid message documents for every family, built with lxml from a :class:`DocumentSpec`.

MsgHead 1.2 around dialog, PLO, Henvisning 2.0, e-resept and the "other"
messages; the basis messages (epikrise, henvisning 1.x, rekvisisjon,
svarrapport) with their own ``Message`` root and HCP parties; AppRec 1.0/1.1.
Patients are synthetic: names from a small list and fødselsnumre of the
synthetic series (month + 80) with valid check digits, so they look real to a
parser but can never be a real person's. Clinical text is assembled from
neutral phrases to give realistic sizes (2–20 KB, some larger, some with a
base64 attachment). The same spec and random state always give the same bytes.
"""

import base64
import random
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Literal

from lxml import etree

from addressregister.model import CommunicationParty
from schemas.catalogue import CatalogueEntry, default_catalogue
from schemas.catalogue_data import BASE64_NAMESPACE, MSGHEAD_NAMESPACE
from schemas.parties import PartyRef
from schemas.vocabulary import AddressingMode, AppRecErrorCode, Family

Encoding = Literal["UTF-8", "ISO-8859-1"]

HER_SYSTEM = "2.16.578.1.12.4.1.1.9051"
PERSON_ID_SYSTEM = "2.16.578.1.12.4.1.1.8116"
APPREC_ERROR_SYSTEM = "2.16.578.1.12.4.1.1.8221"
APPREC_NAMESPACES = {
    "1.0": "http://www.kith.no/xmlstds/apprec/2004-11-21",
    "1.1": "http://www.kith.no/xmlstds/apprec/2012-02-15",
}
APPREC_MIG = {"1.0": "1.0 2004-11-21", "1.1": "v1.1 2012-02-15"}

ERESEPT_DATES = {
    "1": "2013-10-08", "10": "2013-10-08", "91": "2013-10-08", "92": "2013-10-08",
    "6": "2013-10-08", "5": "2013-04-16", "18": "2013-04-16", "911": "2014-01-21",
    "912": "2014-01-21", "22": "2006-10-06", "23": "2006-10-06",
}  # fmt: skip
"""Published schema dates of the e-resept M-messages the simulator sends."""
ERESEPT_HOST = "http://www.kith.no/xmlstds/eresept"

_STATUS_TEXT = {"1": "OK", "2": "Avvist", "3": "OK, feil i delmelding"}
_FIRST = ("Kari", "Ola", "Ingrid", "Per", "Åse", "Bjørn", "Sølvi", "Håkon", "Mari", "Jens")
_LAST = ("Nordmann", "Fjellstad", "Sæther", "Bråten", "Løvås", "Øien", "Haugen", "Dahl")
_PHRASES = (
    "Pasienten er kjent med hypertensjon og type 2 diabetes, godt regulert.",
    "Ved innkomst var allmenntilstanden redusert, men pasienten var våken og orientert.",
    "Det er startet opp med fysioterapi to ganger i uken med god effekt.",
    "Hjemmesykepleien ber om oppdatert legemiddelliste før neste besøk.",
    "Blodprøvene viser lett forhøyet CRP, ellers normale verdier.",
    "Pasienten har behov for hjelp til morgenstell og legemiddelhåndtering.",
    "Kontroll hos fastlege om fire uker med ny vurdering av blodtrykk.",
    "Røntgen thorax viser ingen sikre tegn til infiltrat eller stuvning.",
    "Pårørende er informert og ønsker å bli kontaktet ved endringer.",
    "Utskrivningsklar fra sykehuset, kommunen bes bekrefte mottak.",
    "Ernæringsstatus er vurdert, vekten er stabil siste tre måneder.",
    "Smertelindring med paracetamol ved behov, maksimalt fire gram i døgnet.",
    "Det er ikke kjente allergier, CAVE er sjekket i kjernejournal.",
    "Svar på forespørsel om videre oppfølging i kommunal helse- og omsorgstjeneste.",
    "Sår på høyre legg er i tilheling, skiftes annenhver dag.",
    "Pasienten ønsker ikke gjenopplivning, dette er drøftet med pårørende.",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NamedParty:
    """A party as a document names it: the organisation, and a service or a person under it."""

    organisation: CommunicationParty
    unit: CommunicationParty | None = None
    """A service or department (level 2, service-based addressing)."""
    person: CommunicationParty | None = None
    """A person, e.g. a GP, under the organisation (level 2)."""

    @property
    def ref(self) -> PartyRef:
        """What the hub reads from the document."""
        return PartyRef(
            organisation_her_id=self.organisation.her_id,
            service_her_id=self.unit.her_id if self.unit else None,
            person_her_id=self.person.her_id if self.person else None,
        )

    @property
    def mode(self) -> AddressingMode:
        """The addressing mode the hub records for this party as a receiver."""
        if self.person is not None:
            return AddressingMode.PERSON
        if self.unit is not None:
            return AddressingMode.SERVICE
        return AddressingMode.ORGANISATION

    @property
    def most_specific(self) -> CommunicationParty:
        """The party named at the lowest level."""
        return self.person or self.unit or self.organisation


@dataclass(frozen=True, slots=True)
class Patient:
    """A synthetic patient: never a real person (synthetic fødselsnummer series)."""

    given: str
    family: str
    fnr: str
    born: date
    sex: Literal["1", "2"]


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    """Everything that decides one business document's bytes."""

    entry: CatalogueEntry
    message_type: str
    version: str
    """The standard's version (for e-resept the schema date)."""
    msg_id: str
    gen_date: datetime
    """Local (statistics time zone) time the document was generated."""
    sender: NamedParty
    receiver: NamedParty
    patient: Patient
    ack: bool
    encoding: Encoding
    paragraphs: int
    attachment_bytes: int = 0
    conversation: tuple[str, str] | None = None
    """(RefToParent, RefToConversation) for answers."""
    omit_mig_version: bool = False
    """Fault injection: leave out MIGversion (the document no longer validates)."""

    @property
    def family(self) -> Family:
        """The family of the standard."""
        return self.entry.family

    @property
    def namespace(self) -> str:
        """The payload (or root) namespace."""
        if self.entry.dated_series:
            return f"{self.entry.namespace}{self.version}"
        return self.entry.namespace


@dataclass(frozen=True, slots=True)
class AppRecSpec:
    """A receiver's application receipt for a message it got."""

    version: Literal["1.0", "1.1"]
    apprec_id: str
    gen_date: datetime
    sender: CommunicationParty
    """The organisation that received the original."""
    receiver: CommunicationParty
    """The organisation that sent the original."""
    status: str
    error: str | None
    original_type: str
    original_gen_date: str
    original_msg_id: str
    organisation_number_first: bool = field(default=False)
    """Put the ENH in Inst/Id and the HER-id in AdditionalId, as some real systems do."""


# --- catalogue look-ups -------------------------------------------------------------------


@cache
def entry_for(message_type: str, standard_version: str, family: Family) -> CatalogueEntry:
    """The catalogue entry a message of ``message_type`` is sent under in that version.

    ``standard_version`` is the version (``1.6``) or, for e-resept, ignored.
    """
    entries = default_catalogue().entries
    # a standard that names the code itself first; "*" rows take any code, so they come last
    named = [e for e in entries if message_type in e.type_codes]
    for entry in (*named, *entries):
        if entry.family is not family or not entry.accepts_type(message_type):
            continue
        if family is Family.ERESEPT:
            if entry.namespace.startswith(ERESEPT_HOST):
                return entry
            continue
        if (
            family is Family.PLO
            and entry.payload_roots
            and entry.namespace.endswith(
                ("/Konsultasjon/2009-06-30", "/OverforingMedisinskeOpplysninger/2009-06-30")
            )
        ):
            continue  # the 1.5 folder names; senders use the message names
        if entry.version == standard_version or family is Family.OTHER:
            return entry
    raise KeyError(f"no {family.value} standard {standard_version} sends {message_type}")


def versions_for(message_type: str, family: Family) -> tuple[str, ...]:
    """Versions of the catalogue in which ``message_type`` exists (empty for e-resept/other)."""
    if family in (Family.ERESEPT, Family.OTHER):
        return ()
    found: list[str] = []
    for entry in default_catalogue().entries:
        accepted = entry.family is family and entry.accepts_type(message_type)
        if accepted and entry.version not in found:
            found.append(entry.version)
    return tuple(found)


def eresept_version(message_type: str) -> str:
    """The schema date the simulator uses for an e-resept message type (``ERM1`` ...)."""
    return ERESEPT_DATES[message_type.removeprefix("ERM")]


# --- synthetic patients and text ------------------------------------------------------------


def synthetic_patient(rng: random.Random) -> Patient:
    """A patient with a fødselsnummer of the synthetic series (month + 80), checksums valid."""
    while True:
        born = date(rng.randint(1925, 2018), rng.randint(1, 12), rng.randint(1, 28))
        individual = rng.randint(0, 499) if born.year < 2000 else rng.randint(500, 999)
        digits = [
            *divmod(born.day, 10),
            *divmod(born.month + 80, 10),
            *divmod(born.year % 100, 10),
            *(int(d) for d in f"{individual:03d}"),
        ]
        k1 = 11 - sum(d * w for d, w in zip(digits, (3, 7, 6, 1, 8, 9, 4, 5, 2), strict=True)) % 11
        k1 = 0 if k1 == 11 else k1
        if k1 == 10:
            continue
        digits.append(k1)
        k2 = (
            11
            - sum(d * w for d, w in zip(digits, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        )
        k2 = 0 if k2 == 11 else k2
        if k2 == 10:
            continue
        digits.append(k2)
        sex: Literal["1", "2"] = "1" if individual % 2 else "2"
        return Patient(rng.choice(_FIRST), rng.choice(_LAST), "".join(map(str, digits)), born, sex)


def _text(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.choice(_PHRASES) for _ in range(max(1, sentences)))


def _timestamp(moment: datetime) -> str:
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


# --- element helpers --------------------------------------------------------------------------


class _Builder:
    """SubElement in one namespace, with text and attributes."""

    __slots__ = ("ns",)

    def __init__(self, namespace: str) -> None:
        self.ns = "{" + namespace + "}"

    def add(
        self, parent: etree._Element, tag: str, text: str | None = None, **attributes: str
    ) -> etree._Element:
        element = etree.SubElement(parent, self.ns + tag, attributes)
        if text is not None:
            element.text = text
        return element


def _root(namespace: str, tag: str) -> etree._Element:
    # lxml takes None as the default-namespace prefix; lxml-stubs types the keys as str only
    return etree.Element(f"{{{namespace}}}{tag}", nsmap={None: namespace})  # type: ignore[dict-item]


def _serialise(root: etree._Element, encoding: Encoding) -> bytes:
    document = etree.tostring(root, xml_declaration=True, encoding=encoding)
    assert isinstance(document, bytes)  # an encoding other than "unicode" gives bytes
    return document


# --- MsgHead ---------------------------------------------------------------------------------


def _organisation(b: _Builder, holder: etree._Element, party: NamedParty) -> None:
    organisation = b.add(holder, "Organisation")
    b.add(organisation, "OrganisationName", party.organisation.name)
    _idents(b, organisation, party.organisation)
    if party.unit is not None:
        unit = b.add(organisation, "Organisation")
        b.add(unit, "OrganisationName", party.unit.name)
        _idents(b, unit, party.unit)
    if party.person is not None:
        person = b.add(organisation, "HealthcareProfessional")
        b.add(person, "RoleToPatient", V="6", DN="Fastlege", S="2.16.578.1.12.4.1.1.9034")
        given, _, family = party.person.name.partition(" ")
        b.add(person, "FamilyName", family or given)
        b.add(person, "GivenName", given)
        _idents(b, person, party.person)


def _idents(b: _Builder, parent: etree._Element, party: CommunicationParty) -> None:
    ident = b.add(parent, "Ident")
    b.add(ident, "Id", str(party.her_id))
    b.add(ident, "TypeId", V="HER", DN="HER-id", S=HER_SYSTEM)
    if party.organisation_number:
        ident = b.add(parent, "Ident")
        b.add(ident, "Id", party.organisation_number)
        b.add(ident, "TypeId", V="ENH", DN="Organisasjonsnummeret i Enhetsregister", S=HER_SYSTEM)
    if party.hpr_number:
        ident = b.add(parent, "Ident")
        b.add(ident, "Id", party.hpr_number)
        b.add(ident, "TypeId", V="HPR", DN="HPR-nummer", S=PERSON_ID_SYSTEM)


def _msghead(spec: DocumentSpec, payload: etree._Element, rng: random.Random) -> bytes:
    b = _Builder(MSGHEAD_NAMESPACE)
    root = _root(MSGHEAD_NAMESPACE, "MsgHead")
    info = b.add(root, "MsgInfo")
    b.add(info, "Type", V=spec.message_type, DN=spec.message_type.replace("_", " ").title())
    if not spec.omit_mig_version:
        b.add(info, "MIGversion", "v1.2 2006-05-24")
    b.add(info, "GenDate", _timestamp(spec.gen_date))
    b.add(info, "MsgId", spec.msg_id)
    b.add(info, "ProcessingStatus", V="P", DN="Produksjon")
    if spec.ack:
        b.add(info, "Ack", V="J", DN="Ja")
    if spec.conversation is not None:
        conversation = b.add(info, "ConversationRef")
        b.add(conversation, "RefToParent", spec.conversation[0])
        b.add(conversation, "RefToConversation", spec.conversation[1])
    _organisation(b, b.add(info, "Sender"), spec.sender)
    _organisation(b, b.add(info, "Receiver"), spec.receiver)
    patient = spec.patient
    person = b.add(info, "Patient")
    b.add(person, "FamilyName", patient.family)
    b.add(person, "GivenName", patient.given)
    b.add(person, "DateOfBirth", patient.born.isoformat())
    b.add(person, "Sex", V=patient.sex)
    ident = b.add(person, "Ident")
    b.add(ident, "Id", patient.fnr)
    b.add(ident, "TypeId", V="FNR", DN="Fødselsnummer", S=PERSON_ID_SYSTEM)
    document = b.add(root, "Document")
    ref = b.add(document, "RefDoc")
    b.add(ref, "IssueDate", V=_timestamp(spec.gen_date))
    b.add(ref, "MsgType", V="XML", DN="XML-instans")
    b.add(ref, "Content").append(payload)
    if spec.attachment_bytes:
        document = b.add(root, "Document")
        ref = b.add(document, "RefDoc")
        b.add(ref, "MsgType", V="A", DN="Vedlegg")
        b.add(ref, "MimeType", "application/pdf")
        b.add(ref, "Description", "Vedlegg")
        content = b.add(ref, "Content")
        blob = b"%PDF-1.4\n" + rng.randbytes(max(0, spec.attachment_bytes - 9))
        container = etree.SubElement(content, f"{{{BASE64_NAMESPACE}}}Base64Container")
        container.text = base64.b64encode(blob).decode("ascii")
    return _serialise(root, spec.encoding)


def _dialog_payload(spec: DocumentSpec, rng: random.Random) -> etree._Element:
    b = _Builder(spec.namespace)
    root = _root(spec.namespace, "Dialogmelding")
    if spec.message_type == "DIALOG_FORESPORSEL":
        question = b.add(root, "Foresporsel")
        b.add(
            question, "TypeForesp", V="1", DN="Forespørsel om pasient", S="2.16.578.1.12.4.1.1.8129"
        )
        b.add(question, "Sporsmal", _text(rng, 3 * spec.paragraphs))
        b.add(question, "DokIdForesp", spec.msg_id)
        return root
    note = b.add(root, "Notat")
    b.add(note, "TemaKodet", V="6", DN="Henvendelse om pasient", S="2.16.578.1.12.4.1.1.7322")
    b.add(note, "Tema", spec.message_type.removeprefix("DIALOG_").title())
    b.add(note, "TekstNotatInnhold", _text(rng, 3 * spec.paragraphs))
    b.add(note, "DokIdNotat", spec.msg_id)
    b.add(note, "DatoNotat", spec.gen_date.date().isoformat())
    return root


def _open_payload(spec: DocumentSpec, rng: random.Random, root_name: str) -> etree._Element:
    """PLO, e-resept, Henvisning 2.0 and other payloads: the hub checks the root only."""
    b = _Builder(spec.namespace)
    root = _root(spec.namespace, root_name)
    head = b.add(root, "Meldingsinformasjon")
    b.add(head, "Type", V=spec.message_type)
    b.add(head, "Dokumentdato", spec.gen_date.date().isoformat())
    b.add(head, "DokumentId", spec.msg_id)
    for _ in range(spec.paragraphs):
        section = b.add(root, "Opplysning")
        b.add(section, "Kode", V=str(rng.randint(1, 99)), S="2.16.578.1.12.4.1.1.9999")
        b.add(section, "Tekst", _text(rng, 3))
    return root


# --- basis messages with their own root --------------------------------------------------------


def _hcp(b: _Builder, holder: etree._Element, party: NamedParty) -> None:
    institution = b.add(b.add(holder, "HCP"), "Inst")
    b.add(institution, "Name", party.organisation.name)
    b.add(institution, "Id", str(party.organisation.her_id))
    b.add(institution, "TypeId", V="HER", DN="HER-id")
    if party.unit is not None:
        department = b.add(institution, "Dept")
        b.add(department, "Name", party.unit.name)
        b.add(department, "Id", str(party.unit.her_id))
        b.add(department, "TypeId", V="HER", DN="HER-id")
    if party.person is not None:
        person = b.add(institution, "HCPerson")
        b.add(person, "Name", party.person.name)
        b.add(person, "Id", str(party.person.her_id))
        b.add(person, "TypeId", V="HER", DN="HER-id")


def _basis(spec: DocumentSpec, rng: random.Random) -> bytes:
    b = _Builder(spec.namespace)
    root = _root(spec.namespace, "Message")
    b.add(root, "Type", V=spec.message_type, DN=spec.message_type.title())
    if not spec.omit_mig_version:
        b.add(root, "MIGversion", f"v{spec.version} {spec.namespace.rsplit('/', 1)[1]}")
    b.add(root, "GenDate", V=_timestamp(spec.gen_date))
    b.add(root, "MsgId", spec.msg_id)
    layout = spec.entry.parties
    body = b.add(root, layout.container)
    b.add(body, "ServType", V="N", DN="Ny")
    b.add(body, "IssueDate", V=_timestamp(spec.gen_date))
    b.add(body, "MsgDescr", spec.message_type.replace("_", " ").title())
    b.add(body, "Id", spec.msg_id)
    patient = b.add(body, "Patient")
    b.add(patient, "Name", f"{spec.patient.family}, {spec.patient.given}")
    b.add(patient, "OffId", spec.patient.fnr)
    b.add(patient, "TypeOffId", V="FNR", DN="Fødselsnummer")
    # The layout says which element holds the sender and which the receiver.
    _hcp(b, b.add(body, layout.sender), spec.sender)
    _hcp(b, b.add(body, layout.receiver), spec.receiver)
    for _ in range(spec.paragraphs):
        item = b.add(body, "InfItem")
        b.add(b.add(item, "Observation"), "Description", _text(rng, 3))
    return _serialise(root, spec.encoding)


# --- entry points -------------------------------------------------------------------------------


def render(spec: DocumentSpec, rng: random.Random) -> bytes:
    """The document's bytes in its encoding."""
    entry = spec.entry
    if entry.container == "message":
        return _basis(spec, rng)
    if entry.family is Family.DIALOG:
        payload = _dialog_payload(spec, rng)
    else:
        payload = _open_payload(spec, rng, (*entry.payload_roots, "Melding")[0])
    return _msghead(spec, payload, rng)


def render_apprec(spec: AppRecSpec) -> bytes:
    """The receiver's AppRec (UTF-8)."""
    namespace = APPREC_NAMESPACES[spec.version]
    b = _Builder(namespace)
    root = _root(namespace, "AppRec")
    b.add(root, "MsgType", V="APPREC", DN="Applikasjonskvittering")
    b.add(root, "MIGversion", APPREC_MIG[spec.version])
    b.add(root, "GenDate", _timestamp(spec.gen_date))
    b.add(root, "Id", spec.apprec_id)
    for tag, party in (("Sender", spec.sender), ("Receiver", spec.receiver)):
        institution = b.add(b.add(b.add(root, tag), "HCP"), "Inst")
        b.add(institution, "Name", party.name)
        if spec.organisation_number_first and party.organisation_number:
            b.add(institution, "Id", party.organisation_number)
            b.add(institution, "TypeId", V="ENH", DN="Organisasjonsnummeret i Enhetsregister")
            additional = b.add(institution, "AdditionalId")
            b.add(additional, "Id", str(party.her_id))
            b.add(additional, "Type", V="HER", DN="HER-id")
        else:
            b.add(institution, "Id", str(party.her_id))
            b.add(institution, "TypeId", V="HER", DN="HER-id")
    b.add(root, "Status", V=spec.status, DN=_STATUS_TEXT[spec.status])
    if spec.error is not None:
        b.add(
            root, "Error", V=spec.error, DN=AppRecErrorCode(spec.error).norwegian_name,
            S=APPREC_ERROR_SYSTEM,
        )  # fmt: skip
    original = b.add(root, "OriginalMsgId")
    b.add(original, "MsgType", V=spec.original_type, DN=spec.original_type)
    b.add(original, "IssueDate", spec.original_gen_date)
    b.add(original, "Id", spec.original_msg_id)
    return _serialise(root, "UTF-8")
