"""A register fixture holding every sender and receiver of the shared corpus samples.

The HER-ids and organisation numbers are the ones the published samples use;
names, roles and endpoints are ours. Roles give each party the collaboration
profile its kind of organisation has in the synthetic national register, so the
test checks the samples against realistic profiles rather than against
themselves.
"""

from addressregister.categories import CategoryRule, CategoryTable
from addressregister.index import RegisterIndex
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from addressregister.profiles import DISCHARGE_TYPES, ROLES, profile
from schemas.vocabulary import Category

# level 1: HER-id -> (name, business type, role, organisation number)
ORGANISATIONS: dict[int, tuple[str, str, str, str | None]] = {
    59: ("Testsykehuset HF", "101", "hospital", None),
    39: ("Sykehuset Vest HF", "101", "hospital", None),
    62: ("Sykehuset Nord HF", "101", "hospital", None),
    69: ("Sykehuset Sør HF", "101", "hospital", None),
    13: ("Universitetssykehuset HF", "101", "hospital", None),
    2342: ("Sykehuset Øst HF", "101", "hospital", None),
    91393: ("Sykehuset Innlandet HF", "101", "hospital", None),
    111557: ("Sykehuset Midt HF", "101", "hospital", None),
    90240: ("Rehabiliteringssenteret", "101", "hospital", None),
    8142987: ("Sykehuset Fjord HF", "101", "hospital", None),
    99387: ("Testkommune", "102", "municipality", None),
    127731: ("Fjellbygd kommune", "102", "municipality", None),
    998877: ("Kystvik kommune", "102", "municipality", None),
    91096: ("Testlegekontoret", "103", "gp", None),
    56704: ("Sentrum legesenter", "103", "gp", None),
    8095068: ("Elektronisk resept legekontor", "103", "gp", "100169444"),
    8091390: ("Bygdelegen", "103", "gp", "988453315"),
    91189: ("Magistrell legepraksis", "103", "gp", None),
    80624: ("Reseptformidleren", "113", "reseptformidleren", "915933149"),
    8090688: ("Apotek Torget", "108", "pharmacy", "983044778"),
    8091831: ("Apotek Stasjonen", "108", "pharmacy", "983044778"),
    88957: ("Apotek Kaien", "108", "pharmacy", "971033541"),
    50023: ("Statens legemiddelverk", "113", "medicines_agency", "974761122"),
    79768: ("HELFO oppgjør", "113", "helfo", "889640782"),
    97: ("E-resept testmottaker", "113", "reseptformidleren", "982528011"),
    96: ("NAV", "113", "nav", "974760924"),
    95: ("Vassenden legekontor", "103", "gp", "974793539"),
}

# level 2: HER-id -> (parent, kind, role or None to inherit the parent's profile)
UNITS: dict[int, tuple[int, PartyKind, str | None]] = {
    90998: (59, PartyKind.DEPARTMENT, None),
    91090: (59, PartyKind.DEPARTMENT, None),
    93220: (59, PartyKind.DEPARTMENT, None),
    94673: (59, PartyKind.DEPARTMENT, "hospital_lab"),
    91126: (59, PartyKind.DEPARTMENT, "hospital_lab"),
    91123: (59, PartyKind.DEPARTMENT, "hospital_lab"),
    91818: (59, PartyKind.DEPARTMENT, "hospital_lab"),
    91120: (59, PartyKind.DEPARTMENT, "hospital_radiology"),
    99998: (39, PartyKind.DEPARTMENT, None),
    8605: (62, PartyKind.DEPARTMENT, None),
    89583: (69, PartyKind.DEPARTMENT, None),
    91843: (13, PartyKind.DEPARTMENT, "hospital_lab"),
    88218: (2342, PartyKind.DEPARTMENT, None),
    94866: (91393, PartyKind.DEPARTMENT, None),
    95136: (91393, PartyKind.DEPARTMENT, None),
    91439: (91393, PartyKind.PERSON, None),
    999999: (111557, PartyKind.DEPARTMENT, None),
    999997: (90240, PartyKind.DEPARTMENT, None),
    8143060: (8142987, PartyKind.DEPARTMENT, None),
    123456: (8143060, PartyKind.PERSON, None),
    5078: (99387, PartyKind.SERVICE, "home_care"),
    999998: (127731, PartyKind.SERVICE, "emergency"),
    555111: (998877, PartyKind.SERVICE, "home_care"),
    9512: (555111, PartyKind.PERSON, None),
    91100: (91096, PartyKind.PERSON, None),
    91101: (91096, PartyKind.PERSON, None),
    258521: (56704, PartyKind.PERSON, None),
    369767: (56704, PartyKind.PERSON, None),
    2323234: (91189, PartyKind.PERSON, None),
    93556: (8095068, PartyKind.PERSON, None),
}

# Hospital 91393's samples send an epikrise from one of its departments to one of its own
# doctors, so that hospital also receives discharge letters; the samples' e-resept test
# receiver takes applications to the medicines agency (M3) as well.
EXTRA_RECEIVES: dict[int, tuple[MessageProfile, ...]] = {
    91393: profile(DISCHARGE_TYPES),
    97: profile(("ERM3",)),
}

CATEGORY_RULES = [
    # The samples' national bodies are known here by organisation number or HER-id; a
    # deployment adds such rules through MELDINGSHUB_ADDRESS_REGISTER__CATEGORY_RULES.
    CategoryRule(category=Category.NAV, organisation_number="974760924"),
    CategoryRule(category=Category.HELFO, her_id=79768),
    CategoryRule(category=Category.RESEPTFORMIDLEREN, organisation_number="982528011"),
]

EXPECTED_CATEGORY: dict[int, Category] = {
    59: Category.HELSEFORETAK,
    99387: Category.KOMMUNE,
    91096: Category.FASTLEGE,
    80624: Category.RESEPTFORMIDLEREN,
    8090688: Category.APOTEK,
    50023: Category.ANNET,
    79768: Category.HELFO,
    96: Category.NAV,
    97: Category.RESEPTFORMIDLEREN,
}


def corpus_parties() -> list[CommunicationParty]:
    parties: list[CommunicationParty] = []
    kinds = list(EndpointKind)
    for position, (her_id, (name, business_type, role, number)) in enumerate(ORGANISATIONS.items()):
        receives, sends = ROLES[role]
        kind = kinds[position % len(kinds)]
        address = {
            EndpointKind.AMQP: f"{her_id}_async",
            EndpointKind.MAILBOX: f"mb-{her_id}",
            EndpointKind.WEBHOOK: f"https://epj-{her_id}.example.no/inbox",
            EndpointKind.KAFKA: f"receiver.{her_id}",
            EndpointKind.FILE: f"outbox/{her_id}",
        }[kind]
        parties.append(
            CommunicationParty(
                her_id=her_id,
                kind=PartyKind.ORGANISATION,
                name=name,
                organisation_number=number,
                business_type=business_type,
                receives=receives + EXTRA_RECEIVES.get(her_id, ()),
                sends=sends,
                endpoint=Endpoint(kind, address),
            )
        )
    for her_id, (parent, unit_kind, unit_role) in UNITS.items():
        receives, sends = ROLES[unit_role] if unit_role else ((), ())
        parties.append(
            CommunicationParty(
                her_id=her_id,
                kind=unit_kind,
                name=f"Enhet {her_id}",
                parent_her_id=parent,
                receives=receives,
                sends=sends,
            )
        )
    return parties


def corpus_index() -> RegisterIndex:
    return RegisterIndex(corpus_parties(), CategoryTable.configured(CATEGORY_RULES))
