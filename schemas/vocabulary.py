"""Closed sets shared by every part of the hub: families, categories, outcomes and AppRec codes.

They are the only values that may appear as Prometheus labels and statistics
dimensions, so they live in one leaf module that anyone may import.
"""

from enum import StrEnum
from typing import Literal, get_args

IngressAdapterName = Literal["http", "amqp", "kafka", "file"]
"""The ways into the hub: a setting's values, ``InboundMessage.adapter`` and a metric label."""
INGRESS_ADAPTERS: tuple[IngressAdapterName, ...] = get_args(IngressAdapterName)


class Family(StrEnum):
    """Message family as the e-helsemonitor counts it."""

    PLO = "plo"
    DIALOG = "dialog"
    BASIS = "basis"
    ERESEPT = "eresept"
    APPREC = "apprec"
    OTHER = "other"


class Category(StrEnum):
    """Statistics category of a communication party (section 6 of the domain facts).

    Which party gets which category is decided in :mod:`addressregister` only.
    """

    HELSEFORETAK = "helseforetak"
    KOMMUNE = "kommune"
    FASTLEGE = "fastlege"
    APOTEK = "apotek"
    LABORATORIUM = "laboratorium"
    RONTGEN = "rontgen"
    RESEPTFORMIDLEREN = "reseptformidleren"
    NAV = "nav"
    HELFO = "helfo"
    FHI = "fhi"
    HELSEDIREKTORATET = "helsedirektoratet"
    SKATTEETATEN = "skatteetaten"
    KREFTREGISTERET = "kreftregisteret"
    ANNET = "annet"
    UKJENT = "ukjent"
    """The party is not in the register (for example a rejected, unknown receiver)."""
    NPR = "npr"
    """Norsk pasientregister (part of Helsedirektoratet in 2019-2020; counted on its own)."""


class AddressingMode(StrEnum):
    """How the receiver was addressed in the envelope."""

    ORGANISATION = "organisation"
    SERVICE = "service"
    PERSON = "person"
    NONE = "none"
    """No receiver was resolved (rejected before resolution)."""


class EventType(StrEnum):
    """What happened to a message; one event per outcome on ``hub.events``."""

    ACCEPTED = "accepted"
    ROUTED = "routed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    APPREC_ROUTED = "apprec_routed"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery_failed"
    DELIVERY_RETRIED = "delivery_retried"


SPOOFING_REASON_PREFIX = "spoofing: "
"""How every rejection for spoofing starts its reason (the router's metrics count them by it)."""


class AppRecStatus(StrEnum):
    """AppRec status, kodeverk 8258."""

    OK = "1"
    REJECTED = "2"
    OK_ERROR_IN_MESSAGE_PART = "3"


class AppRecErrorCode(StrEnum):
    """AppRec error codes, kodeverk 8221."""

    E10 = "E10"
    """Invalid message id."""
    E20 = "E20"
    """Doctor (person) does not exist."""
    E21 = "E21"
    """Receiver does not exist."""
    E30 = "E30"
    E31 = "E31"
    E32 = "E32"
    E33 = "E33"
    E34 = "E34"
    E35 = "E35"
    E36 = "E36"
    E53 = "E53"
    E54 = "E54"
    S01 = "S01"
    S02 = "S02"
    S03 = "S03"
    S99 = "S99"
    T01 = "T01"
    """Not XML, not well-formed or unreadable."""
    T02 = "T02"
    """Does not validate against the schema."""
    T10 = "T10"
    """Message format not supported."""
    T99 = "T99"
    """Other format error."""
    X99 = "X99"
    """Other error (also: not delivered)."""

    @property
    def description(self) -> str:
        """Short Norwegian-neutral English text for operators (never message content)."""
        return _APPREC_ERROR_TEXT[self]

    @property
    def norwegian_name(self) -> str:
        """The code's name in kodeverk 8221: what EPJ systems show their users as ``DN``."""
        return _APPREC_ERROR_NAMES[self]


_APPREC_ERROR_TEXT: dict[AppRecErrorCode, str] = {
    AppRecErrorCode.E10: "invalid message id",
    AppRecErrorCode.E20: "person (doctor) does not exist",
    AppRecErrorCode.E21: "receiver does not exist",
    AppRecErrorCode.E30: "patient data missing or wrong",
    AppRecErrorCode.E31: "patient data missing or wrong",
    AppRecErrorCode.E32: "patient data missing or wrong",
    AppRecErrorCode.E33: "patient data missing or wrong",
    AppRecErrorCode.E34: "patient data missing or wrong",
    AppRecErrorCode.E35: "patient data missing or wrong",
    AppRecErrorCode.E36: "patient data missing or wrong",
    AppRecErrorCode.E53: "patient id unknown",
    AppRecErrorCode.E54: "patient id unknown",
    AppRecErrorCode.S01: "signature error",
    AppRecErrorCode.S02: "invalid certificate",
    AppRecErrorCode.S03: "revoked certificate",
    AppRecErrorCode.S99: "other signature or certificate error",
    AppRecErrorCode.T01: "not XML, not well-formed or unreadable",
    AppRecErrorCode.T02: "does not validate",
    AppRecErrorCode.T10: "message format not supported",
    AppRecErrorCode.T99: "other format error",
    AppRecErrorCode.X99: "other error",
}


_APPREC_ERROR_NAMES: dict[AppRecErrorCode, str] = {
    AppRecErrorCode.E10: "Ugyldig meldingsidentifikator",
    AppRecErrorCode.E20: "Lege finnes ikke",
    AppRecErrorCode.E21: "Mottaker finnes ikke",
    AppRecErrorCode.E30: "Pasientens fødselsnummer mangler",
    AppRecErrorCode.E31: "Pasientens fødselsnummer er feil",
    AppRecErrorCode.E32: "Pasientens navn mangler",
    # E33 and E34: their exact 8221 wording was not at hand when this was written (uncertain);
    # the hub never sends them itself (patient checks are the receiver's).
    AppRecErrorCode.E33: "Pasientens navn er feil",
    AppRecErrorCode.E34: "Pasientens adresse mangler eller er feil",
    AppRecErrorCode.E35: "Pasienten finnes ikke i mottakersystemet",
    AppRecErrorCode.E36: "Pasientopplysninger er utilstrekkelige",
    AppRecErrorCode.E53: (
        "Pasientens fødselsnummer eller D-nummer finnes ikke registrert i Folkeregisteret"
    ),
    AppRecErrorCode.E54: "Pasientens fødselsnummer er ikke registrert i mottakersystemet",
    AppRecErrorCode.S01: "Feil på signatur",
    AppRecErrorCode.S02: "Ugyldig sertifikat",
    AppRecErrorCode.S03: "Tilbaketrukket sertifikat",
    AppRecErrorCode.S99: "Annen feil på signatur eller sertifikat",
    AppRecErrorCode.T01: "Ikke XML / ikke 'well formed' / uleselig",
    AppRecErrorCode.T02: "XML validerer ikke",
    AppRecErrorCode.T10: "Støtter ikke meldingsformatet",
    AppRecErrorCode.T99: "Annen feil på format",
    AppRecErrorCode.X99: "Annen feil",
}
