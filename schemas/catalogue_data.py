"""The catalogue table: every standard version the hub knows, as data.

Facts come from the published standards (type codes of kodeverk 8279, payload
namespaces, root elements, which AppRec version answers which standard). To
support a new version, add a row here; no code changes.
"""

from typing import Literal

from schemas import catalogue_other
from schemas.catalogue_entry import CatalogueEntry, PartyLayout
from schemas.vocabulary import Category, Family

KITH = "http://www.kith.no/xmlstds"
EHELSE = "http://ehelse.no/xmlstds"

MSGHEAD_NAMESPACE = f"{KITH}/msghead/2006-05-24"
BASE64_NAMESPACE = f"{KITH}/base64container"
APPREC_10 = f"{KITH}/apprec/2004-11-21"
APPREC_11 = f"{KITH}/apprec/2012-02-15"

IN_MSGHEAD = PartyLayout("organisation", "MsgInfo", "Sender", "Receiver", "OtherReceiver")
SERV_REQ = PartyLayout("hcp", "ServReq", "Requester", "ServProvider", "CopyDest")
SERV_RPRT = PartyLayout("hcp", "ServRprt", "ServProvider", "Requester", "CopyDest")
SERV_REPORT = PartyLayout("hcp", "ServReport", "ServProvider", "Requester", "CopyDest")
APPREC_PARTIES = PartyLayout("hcp", "", "Sender", "Receiver", None)

AppRecVersion = Literal["1.0", "1.1"]

# --- Dialogmelding -------------------------------------------------------------------------
DIALOG_TYPES = (
    "DIALOG_FORESPORSEL",
    "DIALOG_SVAR",
    "DIALOG_NOTAT",
    "DIALOG_AVVIK",
    "DIALOG_HELSEFAGLIG",
    "DIALOG_STATUS_HENVISNING",
    "DIALOG_TIL_ARKIVERING",
    "DIALOG_OVERFORING_JOURNAL",
    "DIALOG_FORSIKRING",
    "DIALOG_INNBYGGER_*",
)

_DIALOG = (
    CatalogueEntry(
        Family.DIALOG, "Dialogmelding", "1.0", f"{KITH}/dialog/2006-10-11", DIALOG_TYPES,
        "msghead", IN_MSGHEAD, "1.0", ("Dialogmelding",), "dialogmelding-v1.0.xsd",
    ),
    CatalogueEntry(
        Family.DIALOG, "Dialogmelding", "1.1", f"{KITH}/dialog/2013-01-23", DIALOG_TYPES,
        "msghead", IN_MSGHEAD, "1.1", ("Dialogmelding",), "dialogmelding-v1.1.xsd",
    ),
)  # fmt: skip

# --- PLO (pleie- og omsorgsmeldinger) -------------------------------------------------------
# (namespace name, type codes, payload roots); one namespace per message of the standard.
_LOG_TYPES = ("LOG_INNLAGT", "LOG_UTSKRIVNINGSKLAR", "LOG_AVMELDING", "LOG_UTSKREVET", "LOG_DOD")
_PLO_MESSAGES: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Innleggelsesrapport", ("INNLEGGELSESRAPPORT",), ("Innleggelsesrapport",)),
    (
        "TverrfagligEpikrise",
        ("UTSKRIVNINGSRAPPORT", "TVERRFAGLIG_EPIKRISE"),
        ("TverrfagligEpikrise",),
    ),
    (
        "HelseopplysningerTilLege",
        ("HELSEOPPLYSNINGER_LEGE", "KONSULTASJON", "LEGEMIDDELHANDTERING"),
        ("Konsultasjon",),
    ),
    (
        "Konsultasjon",
        ("HELSEOPPLYSNINGER_LEGE", "KONSULTASJON", "LEGEMIDDELHANDTERING"),
        ("Konsultasjon",),
    ),
    ("HelseopplysningerVedSoknad", ("HELSEOPPL_SOKNAD",), ("HelseopplysningerVedSoknad",)),
    (
        "MedisinskeOpplysninger",
        ("MEDISINSKE_OPPLYSNINGER", "LEGEMIDDELHANDTERING"),
        ("OverforingMedisinskeOpplysninger",),
    ),
    (
        "OverforingMedisinskeOpplysninger",
        ("MEDISINSKE_OPPLYSNINGER", "LEGEMIDDELHANDTERING"),
        ("OverforingMedisinskeOpplysninger",),
    ),
    (
        "OrienteringOmTjenestetilbud",
        ("ORIENTERING_TJENESTETILBUD",),
        ("OrienteringOmTjenestetilbud",),
    ),
    ("Pasientlogistikk", (*_LOG_TYPES, "PASIENTLOGISTIKK"), ("Pasientlogistikk",)),
    ("MeldingFravar", ("FRAVARSMELDING",), ("MeldingFravar",)),
)
# PLO 1.6 has no MeldingFravar; the 1.5 folder names Konsultasjon/OverforingMedisinskeOpplysninger
# where the message names say HelseopplysningerTilLege/MedisinskeOpplysninger, so both are listed.
_PLO_15_ONLY_NAMES = ("Konsultasjon", "OverforingMedisinskeOpplysninger")
_PLO_VERSIONS: tuple[tuple[str, str, str, AppRecVersion, frozenset[str]], ...] = (
    ("1.5", KITH, "2009-06-30", "1.0", frozenset()),
    ("1.6", KITH, "2012-04-01", "1.1", frozenset({"MeldingFravar", *_PLO_15_ONLY_NAMES})),
)
# PLO 2.0 (namespaces uncertain in the domain notes; these are the published schemas' ones).
_PLO_20: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Pasientlogistikk", (*_LOG_TYPES, "PASIENTLOGISTIKK"), ("Pasientlogistikk",)),
    (
        "HelseopplysningerSaksbehandling",
        ("HELSEOPPL_SOKNAD", "HELSEOPPLYSNINGER_LEGE"),
        ("HelseopplysningerSaksbehandling",),
    ),
    (
        "Sammenfatning",
        ("INNLEGGELSESRAPPORT", "UTSKRIVNINGSRAPPORT", "TVERRFAGLIG_EPIKRISE"),
        ("Sammenfatning",),
    ),
)


def _plo() -> tuple[CatalogueEntry, ...]:
    rows = [
        CatalogueEntry(
            Family.PLO, "PLO", version, f"{base}/po/{name}/{date}", types, "msghead",
            IN_MSGHEAD, apprec, roots, "plo-payload.xsd",
        )
        for version, base, date, apprec, skip in _PLO_VERSIONS
        for name, types, roots in _PLO_MESSAGES
        if name not in skip
    ]  # fmt: skip
    rows += [
        CatalogueEntry(
            Family.PLO, "PLO", "2.0", f"{EHELSE}/po/{name}/2016-05-30", types, "msghead",
            IN_MSGHEAD, "1.1", roots, "plo-payload.xsd",
        )
        for name, types, roots in _PLO_20
    ]  # fmt: skip
    return tuple(rows)


# --- Basis messages -------------------------------------------------------------------------
EPIKRISE_TYPES = ("EPIKRISE", "FODSELS_EPIKRISE", "TILBAKEMELD", "E")
HENVISNING_TYPES = ("HENVISNING", "H")
HENVISNING_20_TYPES = (
    "HENVISNING",
    "HENVISNING_NYTILSTAND",
    "HENVISNING_VIDERE",
    "HENVISNING_BUP",
    "HENVISNING_REHAB",
)
REQ_TYPES = (
    "REQ_LAB", "REQ_RTG", "REQ_CYT", "REQ_HIST", "REQ_KKL", "REQ_MBIO",
    "BEKREFT_REKVISISJON", "STATUS_REKVISISJON", "R",
)  # fmt: skip
SVAR_TYPES = ("SVAR_LAB", "SVAR_RTG", "SVAR_CYT", "SVAR_HIST", "SVAR_KKL", "SVAR_MBIO", "S")


def _basis(
    standard: str,
    version: str,
    namespace: str,
    types: tuple[str, ...],
    parties: PartyLayout,
    apprec: AppRecVersion,
) -> CatalogueEntry:
    """A basis message with its own ``Message`` root."""
    return CatalogueEntry(
        Family.BASIS, standard, version, namespace, types, "message", parties, apprec,
        ("Message",), "basis-message.xsd",
    )  # fmt: skip


_BASIS = (
    _basis("Epikrise", "1.1", f"{KITH}/epikrise/2006-09-23", EPIKRISE_TYPES, SERV_RPRT, "1.0"),
    _basis("Epikrise", "1.2", f"{KITH}/epikrise/2012-02-15", EPIKRISE_TYPES, SERV_RPRT, "1.1"),
    _basis("Henvisning", "1.0", f"{KITH}/henvisning/2005-07-08", HENVISNING_TYPES, SERV_REQ, "1.0"),
    _basis("Henvisning", "1.1", f"{KITH}/henvisning/2012-02-15", HENVISNING_TYPES, SERV_REQ, "1.1"),
    CatalogueEntry(
        Family.BASIS, "Henvisning", "2.0", f"{EHELSE}/henvisning/2017-11-30", HENVISNING_20_TYPES,
        "msghead", IN_MSGHEAD, "1.1", ("Henvisning",), "henvisning-v2.0.xsd",
    ),
    _basis("Rekvisisjon", "1.5", f"{KITH}/rekvisisjon/2008-12-01", REQ_TYPES, SERV_REQ, "1.0"),
    _basis("Rekvisisjon", "1.6", f"{KITH}/rekvisisjon/2012-02-15", REQ_TYPES, SERV_REQ, "1.1"),
    _basis("Svarrapport", "1.3", f"{KITH}/labsvar/2008-12-01", SVAR_TYPES, SERV_REPORT, "1.0"),
    _basis("Svarrapport", "1.4", f"{KITH}/labsvar/2012-02-15", SVAR_TYPES, SERV_REPORT, "1.1"),
)  # fmt: skip

# --- e-resept: one dated series per M-message, kith.no and the newer ehelse.no host --------
# (M number, payload roots). The type code is ERM<n>; M9.11 in prose is ERM911.
_ERESEPT_MESSAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1", ("Resept",)), ("2", ("SoknadHelfo",)), ("3", ("AnmodningSLV",)),
    ("5", ("Tilbakekalling",)), ("52", ("KvitteringTilbakekalling",)),
    ("6", ("UtleveringsrapportRekvirent",)), ("7", ("SlettetReseptRF",)),
    ("8", ("UtleveringsrapportFastlege",)), ("81", ("UtleveringsrapportKjernejournal",)),
    ("10", ("Utleveringsrapport",)), ("12", ("Soknadssvar",)), ("14", ("SoknadSLV",)),
    ("15", ("SvarSLV",)), ("18", ("Oppgjorskrav",)), ("20", ("Notifisering",)),
    ("21", ("Ekspederingsanmodning",)), ("22", ("Oppgjorsresultat",)), ("23", ("Utbetaling",)),
    ("241", ("Samtykke",)), ("242", ("SvarSamtykke",)), ("243", ()), ("244", ()), ("245", ()),
    ("251", ("LegemidlerIBruk",)), ("252", ("LegemidlerIBruk",)), ("253", ("LegemidlerIBruk",)),
    ("261", ()), ("262", ()),
    ("271", ("M271",)), ("272", ("M272",)), ("273", ("M273",)), ("274", ("M274",)),
    ("28", ("M28",)), ("30", ("FEST", "Fest")), ("41", ("M41",)), ("42", ("M42",)),
    ("91", ("ForesporselReseptUtleverer",)), ("911", ("M911",)), ("912", ("M912",)),
    ("92", ("Reseptliste",)), ("921", ("M921",)), ("922", ("M922",)),
    ("93", ("M93",)), ("94", ("ReseptNedlasting",)), ("95", ("M95",)), ("96", ("M96",)),
    ("97", ("M97",)), ("98", ("M98",)),
    ("25", ("LegemidlerIBruk",)), ("254", ("LegemidlerIBruk",)),
    ("9na1", ("M9NA1",)), ("9na2", ("M9NA2",)), ("9na3", ("M9NA3",)), ("9na4", ("M9NA4",)),
)  # fmt: skip
# Whose traffic an M-message is: HELFO's (applications, settlement claims and their answers),
# the medicines agency's (annet), else Reseptformidleren's.
_ERESEPT_BODIES = {
    "2": Category.HELFO, "12": Category.HELFO, "18": Category.HELFO, "22": Category.HELFO,
    "23": Category.HELFO, "3": Category.ANNET, "14": Category.ANNET, "15": Category.ANNET,
}  # fmt: skip
_ERESEPT_HOSTS = ("http://www.kith.no/xmlstds/eresept", "http://www.ehelse.no/xmlstds/eresept")


def _eresept() -> tuple[CatalogueEntry, ...]:
    return tuple(
        CatalogueEntry(
            Family.ERESEPT, f"e-resept M{number.upper()}", "", f"{host}/m{number}/",
            (f"ERM{number.upper()}",), "msghead", IN_MSGHEAD, "1.0", roots,
            "eresept-payload.xsd", dated_series=True,
            receiver_category=_ERESEPT_BODIES.get(number, Category.RESEPTFORMIDLEREN),
        )
        for number, roots in _ERESEPT_MESSAGES
        for host in _ERESEPT_HOSTS
    )  # fmt: skip


# --- AppRec and the "other" messages the hub knows by name ----------------------------------
_APPREC = (
    CatalogueEntry(
        Family.APPREC, "AppRec", "1.0", APPREC_10, ("APPREC",), "apprec", APPREC_PARTIES, None,
        ("AppRec",), "apprec-v1.0.xsd",
    ),
    CatalogueEntry(
        Family.APPREC, "AppRec", "1.1", APPREC_11, ("APPREC",), "apprec", APPREC_PARTIES, None,
        ("AppRec",), "apprec-v1.1.xsd",
    ),
)  # fmt: skip

# The national bodies' messages, older basis versions and the other standards of the
# directorate's folder live in their own table.
ENTRIES: tuple[CatalogueEntry, ...] = (
    _DIALOG + _plo() + _BASIS + _eresept() + _APPREC + catalogue_other.ENTRIES
)
