"""The calibrated national message mix of 2019, as data: who sends what to whom, and how much.

A mix is a list of flows: a family, a sender and a receiver category, the
message types with their weights, and how many messages the flow carried in
the year (or per month where the monthly figures are published). The
simulator scales the flows and picks real parties of the register for each
message, so the hub's statistics of a simulated year reproduce the figures.

Published reference figures (``hubstats.published``, their one source) the mix reproduces:
211.5 M medical messages in 2019; basis 39 M; PLO + dialog per category pair
(helseforetak → kommune 1.51 M, kommune → fastlege 1.46 M, fastlege → kommune
1.40 M, kommune → helseforetak 647 k); e-resept in December 2019 2.3 M
prescribed (ERM1) and 4.5 M dispensed (ERM10); 12.5 % of prescriptions from
specialist care. Where no figure is published (the split of the remaining
families, the other category pairs, the other months of e-resept), the mix
holds our own calibration; :data:`REFERENCE_2019` names which is which.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hubstats.published import figure, pair_label
from schemas.vocabulary import AddressingMode, Category, Family

HF = Category.HELSEFORETAK
KOMMUNE = Category.KOMMUNE
FASTLEGE = Category.FASTLEGE
APOTEK = Category.APOTEK
LAB = Category.LABORATORIUM
RONTGEN = Category.RONTGEN
RF = Category.RESEPTFORMIDLEREN
NAV = Category.NAV
HELFO = Category.HELFO
FHI = Category.FHI
KREFT = Category.KREFTREGISTERET
NPR = Category.NPR
ANNET = Category.ANNET

MONTHS = 12


@dataclass(frozen=True, slots=True)
class Flow:
    """Messages of one family from one category to another in a year."""

    family: Family
    sender: Category
    receiver: Category
    types: tuple[tuple[str, float], ...]
    """Message type (kodeverk 8279) and its relative weight within the flow."""
    yearly: int = 0
    """Messages in the year (national), spread over the months by :data:`MONTH_WEIGHTS`."""
    monthly: tuple[int, ...] = ()
    """Messages per month (national) where published; overrides ``yearly``."""

    def per_month(self) -> tuple[float, ...]:
        """National messages per month (January first)."""
        if self.monthly:
            return tuple(float(n) for n in self.monthly)
        total = sum(MONTH_WEIGHTS)
        return tuple(self.yearly * w / total for w in MONTH_WEIGHTS)

    @property
    def total(self) -> int:
        """National messages in the year."""
        return sum(self.monthly) if self.monthly else self.yearly


@dataclass(frozen=True, slots=True)
class Mix:
    """A named, calibrated mix of flows plus the behaviour shared by all of them."""

    name: str
    year: int
    flows: tuple[Flow, ...]
    versions: Mapping[str, tuple[tuple[str, float], ...]]
    """Standard -> (version, weight): which versions senders use."""
    ack_share: Mapping[Family, float]
    """Share of messages per family that ask for an AppRec (MsgHead Ack=J; basis always)."""
    receiver_modes: Mapping[Category, tuple[tuple[AddressingMode, float], ...]]
    """How receivers of a category are addressed: organisation, service or person."""
    sender_levels: Mapping[Category, tuple[tuple[AddressingMode, float], ...]]
    """At which level senders of a category name themselves."""
    apprec_status: tuple[tuple[str, float], ...]
    """Receivers' AppRec status (kodeverk 8258) and its share."""
    iso_8859_1_share: float
    attachment_share: float
    """Share of MsgHead messages with a base64 attachment (a PDF, an image)."""
    faults: tuple[tuple[str, float], ...] = field(default=())
    """Fault kind and its share among faulty messages."""

    def family_totals(self) -> dict[Family, int]:
        """National messages per family in the year."""
        totals: dict[Family, int] = {}
        for flow in self.flows:
            totals[flow.family] = totals.get(flow.family, 0) + flow.total
        return totals


MONTH_WEIGHTS = (1.02, 0.95, 1.04, 0.93, 0.98, 0.96, 0.72, 1.00, 1.02, 1.08, 1.05, 0.92)
"""Relative traffic per month: fewer working days in April (Easter), July and December."""

_DIALOG = (
    ("DIALOG_NOTAT", 0.35),
    ("DIALOG_FORESPORSEL", 0.25),
    ("DIALOG_SVAR", 0.25),
    ("DIALOG_HELSEFAGLIG", 0.12),
    ("DIALOG_AVVIK", 0.03),
)
_DIALOG_NARROW = (("DIALOG_FORESPORSEL", 0.5), ("DIALOG_SVAR", 0.5))
"""Pharmacies and laboratories take questions and answers only."""

ERM1_2019 = (
    2_350_000, 2_150_000, 2_350_000, 2_150_000, 2_200_000, 2_100_000,
    1_750_000, 2_200_000, 2_300_000, 2_400_000, 2_350_000,
    round(figure("2019-12", "eresept_per_month", "prescribed (ERM1)", "2019-12")),
)  # fmt: skip
"""Prescriptions (rekvirerte e-resepter) per month of 2019; December is published."""
ERM10_2019 = (
    4_600_000, 4_200_000, 4_600_000, 4_350_000, 4_450_000, 4_300_000,
    3_800_000, 4_400_000, 4_400_000, 4_700_000, 4_600_000,
    round(figure("2019-12", "eresept_per_month", "dispensed (ERM10)", "2019-12")),
)  # fmt: skip
"""Dispensing reports (utleverte e-resepter) per month of 2019; December is published."""

SPECIALIST_SHARE = figure("2019", "eresept_specialist_share", "specialist care", "share of ERM1")
ERM1_SENDERS = (
    (FASTLEGE, 0.925 - SPECIALIST_SHARE / 100),
    (HF, SPECIALIST_SHARE / 100),
    (KOMMUNE, 0.05),
    (ANNET, 0.025),
)
"""Who prescribes: GPs and contract specialists, hospitals (12.5 %, published), emergency
wards of the municipalities and dentists."""


def _split(monthly: tuple[int, ...], share: float) -> tuple[int, ...]:
    return tuple(round(n * share) for n in monthly)


_ERM1 = tuple(
    Flow(Family.ERESEPT, sender, RF, (("ERM1", 1.0),), monthly=_split(ERM1_2019, share))
    for sender, share in ERM1_SENDERS
)

OTHER_2019: tuple[Flow, ...] = (
    # Our assumptions (README "Simulated national traffic"): no split is published, only that
    # the other messages with the national bodies are the remainder of the medical total.
    Flow(Family.OTHER, FASTLEGE, HELFO, (("LOM", 1.0),), 32_000_000),  # legeoppgjør
    Flow(Family.OTHER, FASTLEGE, HELFO, (("BEHANDLERKRAV", 1.0),), 5_000_000),  # direct claims
    Flow(Family.OTHER, FASTLEGE, NAV, (("SYKMELD", 0.72), ("LEGEERKL", 0.28)), 9_000_000),
    Flow(Family.OTHER, HF, NAV, (("SYKMELD", 1.0),), 1_500_000),
    Flow(Family.OTHER, FASTLEGE, FHI, (("SYSVAK", 1.0),), 4_000_000),
    Flow(Family.OTHER, HF, FHI, (("SYSVAK", 1.0),), 1_000_000),
    Flow(Family.OTHER, HF, NPR, (("NPR_MELDING", 1.0),), 5_000_000),
    Flow(Family.OTHER, HF, KREFT, (("KREFTMELDING", 1.0),), 500_000),
)  # fmt: skip
"""The "other" medical messages of 2019, each to the national body that receives it."""

NATIONAL_2019_FLOWS: tuple[Flow, ...] = (
    # --- PLO (4.5 M) -------------------------------------------------------------------------
    Flow(Family.PLO, HF, KOMMUNE, (
        ("UTSKRIVNINGSRAPPORT", 0.15), ("TVERRFAGLIG_EPIKRISE", 0.10), ("HELSEOPPL_SOKNAD", 0.15),
        ("LOG_INNLAGT", 0.18), ("LOG_UTSKRIVNINGSKLAR", 0.17), ("LOG_AVMELDING", 0.05),
        ("LOG_UTSKREVET", 0.17), ("LOG_DOD", 0.03),
    ), 1_250_000),
    Flow(Family.PLO, KOMMUNE, FASTLEGE, (
        ("HELSEOPPLYSNINGER_LEGE", 0.45), ("ORIENTERING_TJENESTETILBUD", 0.20),
        ("LEGEMIDDELHANDTERING", 0.15), ("KONSULTASJON", 0.15), ("LOG_DOD", 0.05),
    ), 900_000),
    Flow(Family.PLO, FASTLEGE, KOMMUNE, (
        ("MEDISINSKE_OPPLYSNINGER", 0.7), ("KONSULTASJON", 0.3),
    ), 700_000),
    Flow(Family.PLO, KOMMUNE, HF, (
        ("INNLEGGELSESRAPPORT", 0.6), ("MEDISINSKE_OPPLYSNINGER", 0.1),
        ("PASIENTLOGISTIKK", 0.15), ("LEGEMIDDELHANDTERING", 0.15),
    ), 500_000),
    Flow(Family.PLO, KOMMUNE, KOMMUNE, (
        ("ORIENTERING_TJENESTETILBUD", 0.4), ("PASIENTLOGISTIKK", 0.2),
        ("FRAVARSMELDING", 0.2), ("TVERRFAGLIG_EPIKRISE", 0.2),
    ), 600_000),
    Flow(Family.PLO, HF, FASTLEGE, (("TVERRFAGLIG_EPIKRISE", 0.6), ("LOG_DOD", 0.4)), 550_000),
    # --- dialog (9.5 M) ----------------------------------------------------------------------
    Flow(Family.DIALOG, HF, KOMMUNE, _DIALOG, 260_000),
    Flow(Family.DIALOG, KOMMUNE, FASTLEGE, _DIALOG, 560_000),
    Flow(Family.DIALOG, FASTLEGE, KOMMUNE, _DIALOG, 700_000),
    Flow(Family.DIALOG, KOMMUNE, HF, _DIALOG, 147_000),
    Flow(Family.DIALOG, HF, FASTLEGE, (*_DIALOG, ("DIALOG_STATUS_HENVISNING", 0.05)), 2_500_000),
    Flow(Family.DIALOG, FASTLEGE, HF, _DIALOG, 2_000_000),
    Flow(Family.DIALOG, FASTLEGE, NAV, _DIALOG, 1_200_000),
    Flow(Family.DIALOG, APOTEK, FASTLEGE, _DIALOG_NARROW, 800_000),
    Flow(Family.DIALOG, FASTLEGE, FASTLEGE, _DIALOG, 500_000),
    Flow(Family.DIALOG, LAB, FASTLEGE, _DIALOG_NARROW, 433_000),
    Flow(Family.DIALOG, FASTLEGE, APOTEK, _DIALOG_NARROW, 400_000),
    # --- basis (39 M, published) -------------------------------------------------------------
    Flow(Family.BASIS, FASTLEGE, HF, (("HENVISNING", 1.0),), 2_600_000),
    Flow(Family.BASIS, FASTLEGE, FASTLEGE, (("HENVISNING", 1.0),), 400_000),
    Flow(Family.BASIS, HF, HF, (("HENVISNING_VIDERE", 1.0),), 300_000),
    Flow(Family.BASIS, HF, FASTLEGE, (("EPIKRISE", 1.0),), 4_200_000),
    Flow(Family.BASIS, HF, KOMMUNE, (("EPIKRISE", 0.86), ("FODSELS_EPIKRISE", 0.14)), 700_000),
    Flow(Family.BASIS, FASTLEGE, FASTLEGE, (("TILBAKEMELD", 1.0),), 200_000),
    Flow(Family.BASIS, FASTLEGE, LAB, (
        ("REQ_LAB", 0.7), ("REQ_MBIO", 0.15), ("REQ_KKL", 0.05), ("REQ_CYT", 0.05),
        ("REQ_HIST", 0.05),
    ), 5_000_000),
    Flow(Family.BASIS, FASTLEGE, HF, (
        ("REQ_LAB", 0.6), ("REQ_MBIO", 0.2), ("REQ_HIST", 0.1), ("REQ_CYT", 0.1),
    ), 2_500_000),
    Flow(Family.BASIS, FASTLEGE, RONTGEN, (("REQ_RTG", 1.0),), 1_200_000),
    Flow(Family.BASIS, KOMMUNE, RONTGEN, (("REQ_RTG", 1.0),), 100_000),
    Flow(Family.BASIS, KOMMUNE, LAB, (("REQ_LAB", 1.0),), 100_000),
    Flow(Family.BASIS, LAB, FASTLEGE, (
        ("SVAR_LAB", 0.7), ("SVAR_MBIO", 0.15), ("SVAR_KKL", 0.05), ("SVAR_CYT", 0.05),
        ("SVAR_HIST", 0.05),
    ), 12_900_000),
    Flow(Family.BASIS, HF, FASTLEGE, (
        ("SVAR_LAB", 0.6), ("SVAR_MBIO", 0.2), ("SVAR_HIST", 0.1), ("SVAR_CYT", 0.1),
    ), 6_000_000),
    Flow(Family.BASIS, RONTGEN, FASTLEGE, (("SVAR_RTG", 1.0),), 2_300_000),
    Flow(Family.BASIS, LAB, KOMMUNE, (("SVAR_LAB", 1.0),), 300_000),
    Flow(Family.BASIS, RONTGEN, KOMMUNE, (("SVAR_RTG", 1.0),), 200_000),
    # --- e-resept (100.5 M) -------------------------------------------------------------------
    *_ERM1,
    Flow(Family.ERESEPT, APOTEK, RF, (("ERM10", 1.0),), monthly=ERM10_2019),
    Flow(Family.ERESEPT, APOTEK, RF, (("ERM91", 1.0),), 7_000_000),
    Flow(Family.ERESEPT, RF, APOTEK, (("ERM92", 1.0),), 7_000_000),
    Flow(Family.ERESEPT, RF, FASTLEGE, (("ERM6", 0.8), ("ERM912", 0.2)), 2_900_000),
    Flow(Family.ERESEPT, RF, HF, (("ERM6", 1.0),), 600_000),
    Flow(Family.ERESEPT, FASTLEGE, RF, (("ERM5", 0.6), ("ERM911", 0.4)), 1_300_000),
    Flow(Family.ERESEPT, HF, RF, (("ERM5", 1.0),), 200_000),
    Flow(Family.ERESEPT, APOTEK, HELFO, (("ERM18", 1.0),), 2_000_000),
    # --- other medical messages, to national bodies (58 M, the remainder of 211.5 M) ----------
    *OTHER_2019,
)  # fmt: skip

NATIONAL_2019 = Mix(
    name="national-2019",
    year=2019,
    flows=NATIONAL_2019_FLOWS,
    versions={
        "Dialogmelding": (("1.1", 0.8), ("1.0", 0.2)),
        "PLO": (("1.6", 0.85), ("1.5", 0.15)),
        "Henvisning": (("1.1", 0.85), ("1.0", 0.15)),
        "Epikrise": (("1.2", 0.8), ("1.1", 0.2)),
        "Rekvisisjon": (("1.6", 0.8), ("1.5", 0.2)),
        "Svarrapport": (("1.4", 0.8), ("1.3", 0.2)),
    },
    ack_share={
        Family.PLO: 1.0,
        Family.DIALOG: 1.0,
        Family.BASIS: 1.0,
        Family.ERESEPT: 0.25,
        Family.OTHER: 0.2,
    },
    receiver_modes={
        KOMMUNE: ((AddressingMode.SERVICE, 0.7), (AddressingMode.ORGANISATION, 0.3)),
        HF: ((AddressingMode.SERVICE, 0.75), (AddressingMode.ORGANISATION, 0.25)),
        FASTLEGE: ((AddressingMode.PERSON, 0.8), (AddressingMode.ORGANISATION, 0.2)),
        NAV: ((AddressingMode.SERVICE, 0.4), (AddressingMode.ORGANISATION, 0.6)),
        FHI: ((AddressingMode.SERVICE, 0.3), (AddressingMode.ORGANISATION, 0.7)),
    },
    sender_levels={
        KOMMUNE: ((AddressingMode.SERVICE, 0.7), (AddressingMode.ORGANISATION, 0.3)),
        HF: ((AddressingMode.SERVICE, 0.8), (AddressingMode.ORGANISATION, 0.2)),
        FASTLEGE: ((AddressingMode.PERSON, 0.85), (AddressingMode.ORGANISATION, 0.15)),
    },
    apprec_status=(("1", 0.97), ("2", 0.015), ("3", 0.015)),
    iso_8859_1_share=0.25,
    attachment_share=0.04,
    faults=(
        ("malformed", 0.15),
        ("invalid", 0.2),
        ("bad_msg_id", 0.15),
        ("unknown_receiver", 0.2),
        ("spoofed_sender", 0.1),
        ("resend", 0.2),
    ),
)

MEDICAL_TOTAL = {
    year: round(figure(str(year), "medical_messages_total", "messages", "total"))
    for year in (2019, 2020)
}
"""Published "medisinske meldinger" per year."""
BASIS_2020 = round(figure("2020", "messages_per_family", "messages", "basis"))
ERM1_2020 = round(figure("2020", "eresept_in_period", "prescribed (ERM1)", "2020"))
"""Prescriptions in 2020 (published); dispensing and the rest of e-resept follow 2019's ratios."""


def _scaled(flow: Flow, factor: float) -> Flow:
    if flow.monthly:
        return replace(flow, monthly=tuple(round(n * factor) for n in flow.monthly))
    return replace(flow, yearly=round(flow.yearly * factor))


def _year_2020() -> tuple[Flow, ...]:
    """2019's flows rescaled to the 2020 figures: basis to 47 M, e-resept to 28.4 M
    prescriptions, PLO and dialog as in 2019 (no figure published), and the other messages
    to the remainder of 193.5 M, each body keeping its 2019 share."""
    totals = NATIONAL_2019.family_totals()
    erm1_2019 = sum(sum(f.monthly) for f in NATIONAL_2019_FLOWS if f.types == (("ERM1", 1.0),))
    factors = {
        Family.BASIS: BASIS_2020 / totals[Family.BASIS],
        Family.ERESEPT: ERM1_2020 / erm1_2019,
    }
    eresept = round(totals[Family.ERESEPT] * factors[Family.ERESEPT])
    fixed = totals[Family.PLO] + totals[Family.DIALOG] + BASIS_2020 + eresept
    factors[Family.OTHER] = (MEDICAL_TOTAL[2020] - fixed) / totals[Family.OTHER]
    return tuple(_scaled(flow, factors.get(flow.family, 1.0)) for flow in NATIONAL_2019_FLOWS)


NATIONAL_2020 = replace(NATIONAL_2019, name="national-2020", year=2020, flows=_year_2020())

MIXES: dict[str, Mix] = {mix.name: mix for mix in (NATIONAL_2019, NATIONAL_2020)}
"""The mixes ``meldingshub simulate --mix`` knows."""


@dataclass(frozen=True, slots=True)
class Reference:
    """The e-helsemonitor figures of a year the mix is calibrated to (national counts)."""

    medical_total: int
    families: Mapping[Family, int]
    pairs: Mapping[tuple[Category, Category], int]
    """PLO + dialog messages per sender → receiver category."""
    eresept_monthly: Mapping[str, tuple[int, ...]]
    """ERM1 (prescribed) and ERM10 (dispensed) per month."""
    specialist_share: float
    """Percent of ERM1 sent by helseforetak."""
    published: frozenset[str]
    """Which of the figures are published (the others are our calibration)."""


REFERENCE_2019 = Reference(
    medical_total=MEDICAL_TOTAL[2019],
    families=NATIONAL_2019.family_totals(),
    pairs={
        (sender, receiver): round(
            figure("2019", "plo_dialog_per_category_pair", "messages", pair_label(sender, receiver))
        )
        for sender, receiver in (
            (HF, KOMMUNE),
            (KOMMUNE, FASTLEGE),
            (FASTLEGE, KOMMUNE),
            (KOMMUNE, HF),
        )
    },
    eresept_monthly={"ERM1": ERM1_2019, "ERM10": ERM10_2019},
    specialist_share=SPECIALIST_SHARE,
    published=frozenset(
        {
            "medical_total",
            "families.basis",
            "pairs",
            "eresept_monthly.ERM1.12",
            "eresept_monthly.ERM10.12",
            "specialist_share",
        }
    ),
)
