"""Closed sets shared by every part of the hub: families, categories, outcomes and AppRec codes.

They are the only values that may appear as Prometheus labels and statistics
dimensions, so they live in one leaf module that anyone may import.
"""

from enum import StrEnum


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


class AppRecError(StrEnum):
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


_APPREC_ERROR_TEXT: dict[AppRecError, str] = {
    AppRecError.E10: "invalid message id",
    AppRecError.E20: "person (doctor) does not exist",
    AppRecError.E21: "receiver does not exist",
    AppRecError.E30: "patient data missing or wrong",
    AppRecError.E31: "patient data missing or wrong",
    AppRecError.E32: "patient data missing or wrong",
    AppRecError.E33: "patient data missing or wrong",
    AppRecError.E34: "patient data missing or wrong",
    AppRecError.E35: "patient data missing or wrong",
    AppRecError.E36: "patient data missing or wrong",
    AppRecError.E53: "patient id unknown",
    AppRecError.E54: "patient id unknown",
    AppRecError.S01: "signature error",
    AppRecError.S02: "invalid certificate",
    AppRecError.S03: "revoked certificate",
    AppRecError.S99: "other signature or certificate error",
    AppRecError.T01: "not XML, not well-formed or unreadable",
    AppRecError.T02: "does not validate",
    AppRecError.T10: "message format not supported",
    AppRecError.T99: "other format error",
    AppRecError.X99: "other error",
}


_APPREC_ERROR_NAMES: dict[AppRecError, str] = {
    AppRecError.E10: "Ugyldig meldingsidentifikator",
    AppRecError.E20: "Lege finnes ikke",
    AppRecError.E21: "Mottaker finnes ikke",
    AppRecError.E30: "Pasientens fødselsnummer mangler",
    AppRecError.E31: "Pasientens fødselsnummer er feil",
    AppRecError.E32: "Pasientens navn mangler",
    # E33 and E34: their exact 8221 wording was not at hand when this was written (uncertain);
    # the hub never sends them itself (patient checks are the receiver's).
    AppRecError.E33: "Pasientens navn er feil",
    AppRecError.E34: "Pasientens adresse mangler eller er feil",
    AppRecError.E35: "Pasienten finnes ikke i mottakersystemet",
    AppRecError.E36: "Pasientopplysninger er utilstrekkelige",
    AppRecError.E53: (
        "Pasientens fødselsnummer eller D-nummer finnes ikke registrert i Folkeregisteret"
    ),
    AppRecError.E54: "Pasientens fødselsnummer er ikke registrert i mottakersystemet",
    AppRecError.S01: "Feil på signatur",
    AppRecError.S02: "Ugyldig sertifikat",
    AppRecError.S03: "Tilbaketrukket sertifikat",
    AppRecError.S99: "Annen feil på signatur eller sertifikat",
    AppRecError.T01: "Ikke XML / ikke 'well formed' / uleselig",
    AppRecError.T02: "XML validerer ikke",
    AppRecError.T10: "Støtter ikke meldingsformatet",
    AppRecError.T99: "Annen feil på format",
    AppRecError.X99: "Annen feil",
}
