"""Collaboration profiles by role: which message types a kind of party receives and sends.

Type codes are those of kodeverk 8279 and the e-resept M-messages (section 1 of
the domain facts); versions are the standards' versions, and an empty version
list means every version (e-resept, the national bodies' own formats). The
synthetic national register and the tests build profiles from these roles.
"""

from collections.abc import Iterable

from addressregister.model import MessageProfile

PLO_TYPES = (
    "INNLEGGELSESRAPPORT",
    "UTSKRIVNINGSRAPPORT",
    "HELSEOPPLYSNINGER_LEGE",
    "HELSEOPPL_SOKNAD",
    "MEDISINSKE_OPPLYSNINGER",
    "ORIENTERING_TJENESTETILBUD",
    "LOG_INNLAGT",
    "LOG_UTSKRIVNINGSKLAR",
    "LOG_AVMELDING",
    "LOG_UTSKREVET",
    "LOG_DOD",
    "TVERRFAGLIG_EPIKRISE",
    "FRAVARSMELDING",
    "PASIENTLOGISTIKK",
    "LEGEMIDDELHANDTERING",
    "KONSULTASJON",
)
DIALOG_TYPES = (
    "DIALOG_FORESPORSEL",
    "DIALOG_SVAR",
    "DIALOG_NOTAT",
    "DIALOG_AVVIK",
    "DIALOG_HELSEFAGLIG",
    "DIALOG_STATUS_HENVISNING",
)
REFERRAL_TYPES = (
    "HENVISNING",
    "HENVISNING_NYTILSTAND",
    "HENVISNING_VIDERE",
    "HENVISNING_BUP",
    "HENVISNING_REHAB",
)
DISCHARGE_TYPES = ("EPIKRISE", "FODSELS_EPIKRISE", "TILBAKEMELD")
LAB_REQUESTS = ("REQ_LAB", "REQ_CYT", "REQ_HIST", "REQ_KKL", "REQ_MBIO")
LAB_RESULTS = ("SVAR_LAB", "SVAR_CYT", "SVAR_HIST", "SVAR_KKL", "SVAR_MBIO")
LAB_STATUS = ("BEKREFT_REKVISISJON", "STATUS_REKVISISJON")

# e-resept: prescriber -> Reseptformidleren (RF), RF -> prescriber, pharmacy <-> RF.
ERESEPT_PRESCRIBER_TO_RF = (
    "ERM1",
    "ERM5",
    "ERM241",
    "ERM251",
    "ERM271",
    "ERM911",
    "ERM95",
    "ERM97",
)
ERESEPT_RF_TO_PRESCRIBER = (
    "ERM6",
    "ERM15",
    "ERM52",
    "ERM7",
    "ERM242",
    "ERM252",
    "ERM272",
    "ERM28",
    "ERM912",
    "ERM96",
    "ERM98",
)
ERESEPT_PHARMACY_TO_RF = ("ERM10", "ERM91", "ERM93", "ERM252", "ERM271", "ERM911")
ERESEPT_RF_TO_PHARMACY = ("ERM15", "ERM92", "ERM94", "ERM252", "ERM272", "ERM912")
ERESEPT_SETTLEMENT_CLAIMS = ("ERM18",)
"""Pharmacy to HELFO: settlement claims (oppgjørskrav)."""
ERESEPT_SETTLEMENT_ANSWERS = ("ERM22", "ERM23")
"""HELFO to pharmacy: settlement result and payment."""

_VERSIONS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(PLO_TYPES, ("1.5", "1.6")),
    **dict.fromkeys(DIALOG_TYPES, ("1.0", "1.1")),
    "HENVISNING": ("1.0", "1.1"),
    **dict.fromkeys(REFERRAL_TYPES[1:], ("2.0",)),
    "EPIKRISE": ("1.1", "1.2"),
    "FODSELS_EPIKRISE": ("1.1", "1.2"),
    "TILBAKEMELD": ("1.1", "1.2"),
    **dict.fromkeys((*LAB_REQUESTS, "REQ_RTG", *LAB_STATUS), ("1.5", "1.6")),
    **dict.fromkeys((*LAB_RESULTS, "SVAR_RTG"), ("1.3", "1.4")),
}


def profile(*groups: Iterable[str]) -> tuple[MessageProfile, ...]:
    """A profile of the given type codes (duplicates dropped, order kept) with their versions."""
    seen: dict[str, None] = {}
    for group in groups:
        for message_type in group:
            seen.setdefault(message_type, None)
    return tuple(MessageProfile(t, _VERSIONS.get(t, ())) for t in seen)


ROLES: dict[str, tuple[tuple[MessageProfile, ...], tuple[MessageProfile, ...]]] = {
    # role: (receives, sends)
    "gp": (
        profile(
            DIALOG_TYPES,
            DISCHARGE_TYPES,
            LAB_RESULTS,
            ("SVAR_RTG",),
            LAB_STATUS,
            ("HELSEOPPLYSNINGER_LEGE", "ORIENTERING_TJENESTETILBUD", "LOG_DOD"),
            ("TVERRFAGLIG_EPIKRISE", "KONSULTASJON", "LEGEMIDDELHANDTERING"),
            ERESEPT_RF_TO_PRESCRIBER,
        ),
        profile(
            DIALOG_TYPES,
            REFERRAL_TYPES,
            LAB_REQUESTS,
            ("REQ_RTG",),
            ("MEDISINSKE_OPPLYSNINGER", "KONSULTASJON"),
            ERESEPT_PRESCRIBER_TO_RF,
            ("SYKMELD", "LEGEERKL", "LOM", "DODSMELDING", "BEHANDLERKRAV", "SYSVAK"),
        ),
    ),
    "specialist": (
        profile(DIALOG_TYPES, REFERRAL_TYPES, DISCHARGE_TYPES, LAB_RESULTS, ("SVAR_RTG",)),
        profile(
            DIALOG_TYPES,
            DISCHARGE_TYPES,
            REFERRAL_TYPES,
            LAB_REQUESTS,
            ("REQ_RTG",),
            ERESEPT_PRESCRIBER_TO_RF,
            ("SYKMELD", "LEGEERKL", "BEHANDLERKRAV"),
        ),
    ),
    "physiotherapist": (
        profile(DIALOG_TYPES, ("HENVISNING", "HENVISNING_REHAB"), ("EPIKRISE",)),
        profile(DIALOG_TYPES, ("TILBAKEMELD",), ("LEGEERKL", "BEHANDLERKRAV")),
    ),
    "municipality": (
        profile(PLO_TYPES, DIALOG_TYPES, ("EPIKRISE", "SVAR_RTG", "SVAR_LAB")),
        profile(PLO_TYPES, DIALOG_TYPES, ("REQ_RTG", "REQ_LAB")),
    ),
    "home_care": (
        profile(PLO_TYPES, DIALOG_TYPES, ("EPIKRISE", "SVAR_RTG", "SVAR_LAB")),
        profile(PLO_TYPES, DIALOG_TYPES, ("REQ_RTG", "REQ_LAB")),
    ),
    "emergency": (
        profile(
            DIALOG_TYPES, DISCHARGE_TYPES, LAB_RESULTS, ("SVAR_RTG",), ERESEPT_RF_TO_PRESCRIBER
        ),
        profile(
            DIALOG_TYPES,
            ("HENVISNING", "HENVISNING_NYTILSTAND"),
            LAB_REQUESTS,
            ("REQ_RTG",),
            ("INNLEGGELSESRAPPORT", "MEDISINSKE_OPPLYSNINGER"),
            ERESEPT_PRESCRIBER_TO_RF,
            ("DODSMELDING",),
        ),
    ),
    "health_station": (
        profile(DIALOG_TYPES, ("EPIKRISE", "FODSELS_EPIKRISE")),
        profile(DIALOG_TYPES, ("HENVISNING",)),
    ),
    "municipal_therapy": (
        profile(DIALOG_TYPES, ("HENVISNING", "HENVISNING_REHAB", "EPIKRISE"), PLO_TYPES[:6]),
        profile(DIALOG_TYPES, ("TILBAKEMELD",), PLO_TYPES[:6]),
    ),
    "hospital": (
        profile(
            REFERRAL_TYPES,
            DIALOG_TYPES,
            ("INNLEGGELSESRAPPORT", "PASIENTLOGISTIKK", "LEGEMIDDELHANDTERING"),
            ("MEDISINSKE_OPPLYSNINGER", "KONSULTASJON"),
            LAB_RESULTS,
            ("SVAR_RTG",),
            ERESEPT_RF_TO_PRESCRIBER,
        ),
        profile(
            DISCHARGE_TYPES,
            DIALOG_TYPES,
            ("HELSEOPPL_SOKNAD", "UTSKRIVNINGSRAPPORT", "TVERRFAGLIG_EPIKRISE"),
            ("LOG_INNLAGT", "LOG_UTSKRIVNINGSKLAR", "LOG_AVMELDING", "LOG_UTSKREVET", "LOG_DOD"),
            ("HENVISNING_VIDERE",),
            LAB_REQUESTS,
            ("REQ_RTG",),
            ERESEPT_PRESCRIBER_TO_RF,
            ("NPR_MELDING", "FODSELSMELDING", "DODSMELDING", "KREFTMELDING", "SYKMELD"),
            ("SYSVAK",),
        ),
    ),
    "hospital_lab": (
        profile(LAB_REQUESTS, DIALOG_TYPES),
        profile(LAB_RESULTS, LAB_STATUS, DIALOG_TYPES),
    ),
    "hospital_radiology": (
        profile(("REQ_RTG",), DIALOG_TYPES),
        profile(("SVAR_RTG",), LAB_STATUS, DIALOG_TYPES),
    ),
    "laboratory": (
        profile(LAB_REQUESTS, ("DIALOG_FORESPORSEL", "DIALOG_SVAR", "DIALOG_NOTAT")),
        profile(LAB_RESULTS, LAB_STATUS, ("DIALOG_FORESPORSEL", "DIALOG_SVAR", "DIALOG_NOTAT")),
    ),
    "radiology": (
        profile(("REQ_RTG",), ("DIALOG_FORESPORSEL", "DIALOG_SVAR", "DIALOG_NOTAT")),
        profile(("SVAR_RTG",), LAB_STATUS, ("DIALOG_FORESPORSEL", "DIALOG_SVAR")),
    ),
    "pharmacy": (
        profile(
            ERESEPT_RF_TO_PHARMACY,
            ERESEPT_SETTLEMENT_ANSWERS,
            ("DIALOG_FORESPORSEL", "DIALOG_SVAR"),
        ),
        profile(
            ERESEPT_PHARMACY_TO_RF,
            ERESEPT_SETTLEMENT_CLAIMS,
            ("ERM3",),
            ("DIALOG_FORESPORSEL", "DIALOG_SVAR"),
        ),
    ),
    "bandagist": (
        profile(("DIALOG_FORESPORSEL", "DIALOG_SVAR", "DIALOG_NOTAT")),
        profile(("DIALOG_FORESPORSEL", "DIALOG_SVAR", "DIALOG_NOTAT")),
    ),
    "dental": (
        profile(DIALOG_TYPES, ("EPIKRISE",), ERESEPT_RF_TO_PRESCRIBER),
        profile(DIALOG_TYPES, ("HENVISNING",), ERESEPT_PRESCRIBER_TO_RF),
    ),
    "reseptformidleren": (
        profile(ERESEPT_PRESCRIBER_TO_RF, ERESEPT_PHARMACY_TO_RF, ("ERM15",)),
        profile(ERESEPT_RF_TO_PRESCRIBER, ERESEPT_RF_TO_PHARMACY, ("ERM14", "ERM20")),
    ),
    "nav": (
        profile(("SYKMELD", "LEGEERKL"), DIALOG_TYPES),
        profile(DIALOG_TYPES),
    ),
    "helfo": (
        profile(("ERM10", "LOM", "BEHANDLERKRAV"), ERESEPT_SETTLEMENT_CLAIMS, DIALOG_TYPES),
        profile(ERESEPT_SETTLEMENT_ANSWERS, DIALOG_TYPES),
    ),
    "fhi": (
        profile(("SYSVAK", "DODSMELDING"), DIALOG_TYPES),
        profile(DIALOG_TYPES),
    ),
    "helsedirektoratet": (
        profile(("NPR_MELDING",), DIALOG_TYPES),
        profile(DIALOG_TYPES),
    ),
    "skatteetaten": (
        profile(("FODSELSMELDING", "DODSMELDING")),
        profile(("DIALOG_NOTAT",)),
    ),
    "npr": (
        profile(("NPR_MELDING",), DIALOG_TYPES),
        profile(DIALOG_TYPES),
    ),
    "kreftregisteret": (
        profile(("KREFTMELDING",), DIALOG_TYPES),
        profile(DIALOG_TYPES),
    ),
    "medicines_agency": (
        profile(("ERM3", "ERM14", "ERM20"), ("DIALOG_FORESPORSEL", "DIALOG_SVAR")),
        profile(("ERM15",), ("DIALOG_FORESPORSEL", "DIALOG_SVAR")),
    ),
}
"""Receive and send profiles per role of the synthetic register."""
