"""A realistic, deterministic synthetic national register: the register of the demo,
the simulator and the benchmarks.

Same seed, same register, byte for byte. It holds every municipality (357, with
kommunenumre under the 2024 county numbers) and their services, the health
trusts and private hospitals with departments, about 1,800 GP practices with
about 5,000 GPs as persons, contract specialists, physiotherapists, about 1,000
pharmacies, laboratories, radiology institutes and the national bodies
(Reseptformidleren, NAV, HELFO, FHI, Helsedirektoratet, Skatteetaten,
Kreftregisteret, Norsk pasientregister and the medicines agency). Names and service codes are
synthetic; the code lists (8663, 8668, ...) and business types (9040) are the real ones.
The national bodies get the HER-ids the shipped category table names.
"""

import hashlib
import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from addressregister.profiles import ROLES

Progress = Callable[[int], None]
"""Told how many parties were added since the last call."""

COUNTIES: tuple[tuple[int, str, int], ...] = (
    (3, "Oslo", 1),
    (11, "Rogaland", 23),
    (15, "Møre og Romsdal", 27),
    (18, "Nordland", 41),
    (31, "Østfold", 12),
    (32, "Akershus", 21),
    (33, "Buskerud", 18),
    (34, "Innlandet", 46),
    (39, "Vestfold", 6),
    (40, "Telemark", 17),
    (42, "Agder", 25),
    (46, "Vestland", 43),
    (50, "Trøndelag", 38),
    (55, "Troms", 21),
    (56, "Finnmark", 18),
)
"""County number, name and number of municipalities (357 in all, as of 2024)."""

MUNICIPAL_SERVICES: tuple[tuple[str, str, str, float], ...] = (
    # synthetic code in list 8663, name, role, share of municipalities that register it
    ("1", "Hjemmesykepleie", "home_care", 1.0),
    ("2", "Sykehjem", "home_care", 1.0),
    ("3", "Legevakt", "emergency", 0.7),
    ("4", "Helsestasjon", "health_station", 1.0),
    ("5", "Fysioterapi", "municipal_therapy", 0.8),
    ("6", "Psykisk helse og rus", "home_care", 0.8),
    ("7", "Tildelingskontor", "home_care", 0.6),
    ("8", "Ergoterapi", "municipal_therapy", 0.4),
    ("9", "Jordmortjeneste", "health_station", 0.3),
)
HOSPITAL_DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    # synthetic code in list 8668, name, role
    ("1", "Medisinsk avdeling", "hospital"),
    ("2", "Kirurgisk avdeling", "hospital"),
    ("3", "Ortopedisk avdeling", "hospital"),
    ("4", "Kvinneklinikken", "hospital"),
    ("5", "Barne- og ungdomsklinikken", "hospital"),
    ("6", "Psykisk helsevern", "hospital"),
    ("7", "Nevrologisk avdeling", "hospital"),
    ("8", "Kreftavdelingen", "hospital"),
    ("9", "Akuttmottak", "hospital"),
    ("10", "Avdeling for medisinsk biokjemi", "hospital_lab"),
    ("11", "Avdeling for mikrobiologi", "hospital_lab"),
    ("12", "Avdeling for patologi", "hospital_lab"),
    ("13", "Bildediagnostikk", "hospital_radiology"),
    ("14", "Habilitering og rehabilitering", "hospital"),
)
NATIONAL_BODIES: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    # HER-id (as in the category table), name, role, services (code list 8658)
    (80624, "Reseptformidleren", "reseptformidleren", ()),
    (90010, "NAV", "nav", ("Sykmelding", "Legeerklæringer", "Arbeidsrettet oppfølging")),
    (90020, "HELFO", "helfo", ("Oppgjør apotek", "Oppgjør behandlere")),
    (90030, "Folkehelseinstituttet", "fhi", ("Dødsårsaksregisteret", "MSIS")),
    (90040, "Helsedirektoratet", "helsedirektoratet", ("Norsk pasientregister",)),
    (90050, "Skatteetaten", "skatteetaten", ("Folkeregisteret",)),
    (90060, "Kreftregisteret", "kreftregisteret", ("Kreftmeldinger",)),
)
LATE_NATIONAL_BODIES: tuple[tuple[int, str, str], ...] = (
    # Added after the first release: generated last, so every other party keeps its HER-id
    # and name for a given seed.
    (90070, "Norsk pasientregister", "npr"),
)

FIRST_HER_ID = 1_000_000
"""Generated HER-ids start here, far from the national bodies and the corpus samples."""

_ROOTS = (
    "fjord", "dal", "vik", "nes", "berg", "øy", "heim", "stad", "sund", "land", "vang",
    "bygd", "haug", "å", "strand", "mo", "lia", "rud", "set", "tun", "vær", "holm",
)  # fmt: skip
_STEMS = (
    "Nord", "Sør", "Aust", "Vest", "Lange", "Stor", "Lille", "Brei", "Fager", "Grøn", "Kvit",
    "Rød", "Eike", "Bjørke", "Furu", "Gran", "Ask", "Lind", "Hav", "Fjell", "Elve", "Sol",
    "Ly", "Berge", "Tor", "Ulv", "Rå", "Ham", "Skog", "Mjøs",
)  # fmt: skip
_FIRST_NAMES = (
    "Anne", "Kari", "Ingrid", "Marit", "Liv", "Eva", "Hilde", "Silje", "Ida", "Nora",
    "Ole", "Lars", "Per", "Jan", "Knut", "Arne", "Erik", "Nils", "Anders", "Jonas",
    "Sara", "Emma", "Maja", "Ahmed", "Ali", "Piotr", "Mona", "Trond", "Geir", "Hanne",
)  # fmt: skip
_LAST_NAMES = (
    "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen",
    "Jensen", "Karlsen", "Johnsen", "Pettersen", "Eriksen", "Berg", "Haugen", "Hagen",
    "Johannessen", "Andreassen", "Jacobsen", "Dahl", "Jørgensen", "Halvorsen", "Henriksen",
    "Lund", "Sørensen", "Jakobsen", "Moen", "Gundersen", "Iversen", "Strand",
)  # fmt: skip
_ENDPOINT_KINDS = (
    (EndpointKind.AMQP, 0.55),
    (EndpointKind.MAILBOX, 0.15),
    (EndpointKind.WEBHOOK, 0.12),
    (EndpointKind.KAFKA, 0.10),
    (EndpointKind.FILE, 0.08),
)


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality of the synthetic register."""

    number: str
    name: str
    weight: float
    """Relative population, for placing practices and pharmacies."""


class _Builder:
    """Holds the random source and counters; one instance per generated register."""

    def __init__(self, seed: int, progress: Progress | None) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
        self.seed = seed
        self.progress = progress
        self.parties: list[CommunicationParty] = []
        self.next_her_id = FIRST_HER_ID
        self.org_numbers: set[str] = set()
        self.hpr_numbers: set[str] = set()
        self._pending = 0

    # -- identifiers ------------------------------------------------------------

    def her_id(self) -> int:
        her_id = self.next_her_id
        self.next_her_id += self.rng.randint(1, 3)
        return her_id

    def organisation_number(self) -> str:
        while True:
            body = str(self.rng.choice((8, 9))) + "".join(
                str(self.rng.randint(0, 9)) for _ in range(7)
            )
            remainder = sum(int(d) * w for d, w in zip(body, (3, 2, 7, 6, 5, 4, 3, 2), strict=True))
            check = (11 - remainder % 11) % 11
            number = body + str(check)
            if check != 10 and number not in self.org_numbers:
                self.org_numbers.add(number)
                return number

    def hpr_number(self) -> str:
        while True:
            number = str(self.rng.randint(1_000_000, 99_999_999))
            if number not in self.hpr_numbers:
                self.hpr_numbers.add(number)
                return number

    def place_name(self) -> str:
        return self.rng.choice(_STEMS) + self.rng.choice(_ROOTS)

    def person_name(self) -> str:
        return f"{self.rng.choice(_FIRST_NAMES)} {self.rng.choice(_LAST_NAMES)}"

    def endpoint(self, her_id: int, slug: str) -> Endpoint:
        kind = self.rng.choices(
            [k for k, _ in _ENDPOINT_KINDS], weights=[w for _, w in _ENDPOINT_KINDS]
        )[0]
        return _endpoint(kind, her_id, slug)

    def thumbprints(self, her_id: int) -> tuple[str, ...]:
        digest = hashlib.sha256(f"{self.seed}:{her_id}:enc".encode()).hexdigest().upper()
        return (digest[:40],)

    def since(self) -> datetime | None:
        if self.rng.random() < 0.5:
            return None
        return datetime(self.rng.randint(2004, 2023), self.rng.randint(1, 12), 1, tzinfo=UTC)

    # -- adding -------------------------------------------------------------------

    def add(self, party: CommunicationParty) -> CommunicationParty:
        self.parties.append(party)
        self._pending += 1
        if self.progress is not None and self._pending >= 500:
            self.progress(self._pending)
            self._pending = 0
        return party

    def flush_progress(self) -> None:
        if self.progress is not None and self._pending:
            self.progress(self._pending)
            self._pending = 0

    def organisation(
        self,
        name: str,
        business_type: str,
        role: str,
        municipality: str | None,
        *,
        her_id: int | None = None,
        organisation_number: str | None = None,
        active: bool = True,
    ) -> CommunicationParty:
        her_id = her_id if her_id is not None else self.her_id()
        receives, sends = ROLES[role]
        return self.add(
            CommunicationParty(
                her_id=her_id,
                kind=PartyKind.ORGANISATION,
                name=name,
                organisation_number=organisation_number or self.organisation_number(),
                municipality=municipality,
                business_type=business_type,
                active=active,
                valid_from=self.since(),
                receives=receives,
                sends=sends,
                endpoint=self.endpoint(her_id, _slug(name, her_id)),
                certificate_thumbprints=self.thumbprints(her_id),
            )
        )

    def unit(
        self,
        parent: CommunicationParty,
        name: str,
        kind: PartyKind,
        *,
        code: str | None,
        code_list: str | None,
        role: str | None,
        own_endpoint: float,
    ) -> CommunicationParty:
        her_id = self.her_id()
        receives: tuple[MessageProfile, ...] = ()
        sends: tuple[MessageProfile, ...] = ()
        if role is not None:
            receives, sends = ROLES[role]
        endpoint = (
            self.endpoint(her_id, _slug(name, her_id)) if self.rng.random() < own_endpoint else None
        )
        return self.add(
            CommunicationParty(
                her_id=her_id,
                kind=kind,
                name=name,
                parent_her_id=parent.her_id,
                municipality=parent.municipality,
                business_type=parent.business_type,
                service_code=code,
                service_code_list=code_list,
                receives=receives,
                sends=sends,
                endpoint=endpoint,
            )
        )

    def person(self, practice: CommunicationParty, *, active: bool) -> CommunicationParty:
        return self.add(
            CommunicationParty(
                her_id=self.her_id(),
                kind=PartyKind.PERSON,
                name=self.person_name(),
                parent_her_id=practice.her_id,
                hpr_number=self.hpr_number(),
                active=active,
            )
        )


def municipalities(rng: random.Random) -> list[Municipality]:
    """The 357 municipalities with plausible numbers (county + running number)."""
    result: list[Municipality] = []
    for county, _name, count in COUNTIES:
        number = 1
        for position in range(count):
            weight = (
                60.0 if county == 3 else rng.paretovariate(1.3) * (3.0 if position == 0 else 1.0)
            )
            name = "Oslo" if county == 3 else rng.choice(_STEMS) + rng.choice(_ROOTS)
            result.append(Municipality(f"{county:02d}{number:02d}", name, weight))
            # gaps like the real numbering, but never past 99 within a county
            gap = rng.randint(1, 2)
            number += gap if number + gap + (count - position - 1) <= 99 else 1
    return result


def generate_national_register(
    seed: int = 1, progress: Progress | None = None
) -> list[CommunicationParty]:
    """The synthetic national register for ``seed``, parents before children."""
    builder = _Builder(seed, progress)
    rng = builder.rng
    places = municipalities(rng)
    cumulative = list(itertools.accumulate(m.weight for m in places))

    def somewhere() -> Municipality:
        return rng.choices(places, cum_weights=cumulative)[0]

    for number, name, role, services in NATIONAL_BODIES:
        body = builder.organisation(name, "113", role, "0301", her_id=number)
        for service in services:
            builder.unit(
                body, f"{name} {service}", PartyKind.SERVICE,
                code=str(services.index(service) + 1), code_list="8658", role=None,
                own_endpoint=0.5,
            )  # fmt: skip
    builder.organisation("Statens legemiddelverk", "113", "medicines_agency", "0301")

    for place in places:
        municipality = builder.organisation(
            f"{place.name} kommune", "102", "municipality", place.number
        )
        for code, service, role, share in MUNICIPAL_SERVICES:
            if rng.random() < share:
                builder.unit(
                    municipality, f"{place.name} kommune {service}", PartyKind.SERVICE,
                    code=code, code_list="8663", role=role, own_endpoint=0.7,
                )  # fmt: skip

    for trust in _hospital_names(rng, 20):
        _hospital(builder, f"{trust} HF", somewhere().number, len(HOSPITAL_DEPARTMENTS))
    for clinic in _hospital_names(rng, 10):
        _hospital(builder, f"{clinic} private sykehus", somewhere().number, 4)

    _practices(builder, somewhere, "legekontor", "gp", practices=1_800, people=5_000)
    _practices(builder, somewhere, "spesialistpraksis", "specialist", practices=700, people=800)
    _practices(builder, somewhere, "fysioterapi", "physiotherapist", practices=400, people=900)

    for _ in range(1_000):
        place = somewhere()
        builder.organisation(
            f"Apotek {builder.place_name()} {place.name}", "108", "pharmacy", place.number
        )
    for _ in range(40):
        place = somewhere()
        builder.organisation(
            f"{place.name} medisinske laboratorium", "105", "laboratory", place.number
        )
    for _ in range(60):
        place = somewhere()
        builder.organisation(f"{place.name} røntgeninstitutt", "104", "radiology", place.number)
    for _ in range(20):
        builder.organisation(
            f"{builder.place_name()} bandasjist", "109", "bandagist", somewhere().number
        )
    for _ in range(30):
        builder.organisation(
            f"{builder.place_name()} tannklinikk", "110", "dental", somewhere().number
        )
    for number, name, role in LATE_NATIONAL_BODIES:
        builder.organisation(name, "113", role, "0301", her_id=number)
    builder.flush_progress()
    return builder.parties


def expected_size() -> int:
    """Roughly how many parties a register has (for progress bars)."""
    return 15_000


def _hospital(builder: _Builder, name: str, municipality: str, departments: int) -> None:
    hospital = builder.organisation(name, "101", "hospital", municipality)
    for code, department, role in HOSPITAL_DEPARTMENTS[:departments]:
        builder.unit(
            hospital, f"{name} {department}", PartyKind.DEPARTMENT,
            code=code, code_list="8668", role=role, own_endpoint=0.3,
        )  # fmt: skip


def _practices(
    builder: _Builder,
    somewhere: Callable[[], Municipality],
    label: str,
    role: str,
    *,
    practices: int,
    people: int,
) -> None:
    rng = builder.rng
    sizes = [1] * practices
    for _ in range(people - practices):
        sizes[rng.randrange(practices)] += 1
    for size in sizes:
        place = somewhere()
        practice = builder.organisation(
            f"{builder.place_name()} {label}", "103", role, place.number,
            active=rng.random() > 0.003,
        )  # fmt: skip
        for _ in range(size):
            builder.person(practice, active=rng.random() > 0.005)


def _endpoint(kind: EndpointKind, her_id: int, slug: str) -> Endpoint:
    address = {
        EndpointKind.AMQP: f"{her_id}_async",
        EndpointKind.MAILBOX: f"mb-{her_id}",
        EndpointKind.WEBHOOK: f"https://{slug}.epj.example.no/meldingshub/inbox",
        EndpointKind.KAFKA: f"receiver.{her_id}",
        EndpointKind.FILE: f"outbox/{her_id}",
    }[kind]
    return Endpoint(kind, address)


LOCAL_KINDS = {EndpointKind.AMQP: EndpointKind.MAILBOX, EndpointKind.WEBHOOK: EndpointKind.MAILBOX}
"""Kinds an embedded hub cannot serve alone -> the kind that stands in for each: the hub's
own mailbox, which receivers pull as EPJ systems pull NHN's message server. (Not a topic
each: thousands of one-partition topics cost the embedded broker more than the traffic.)"""


def on_this_machine(parties: Iterable[CommunicationParty]) -> list[CommunicationParty]:
    """``parties`` with every endpoint one that an embedded hub delivers to on its own machine.

    The embedded demo's receivers are simulated beside the hub: it has no RabbitMQ of its
    own and no webhook receiver on the network, and a delivery that can never succeed
    would retry until it is given up. The same parties otherwise, so routing and the
    statistics are those of the national register.
    """
    placed = []
    for party in parties:
        endpoint = party.endpoint
        if endpoint is not None and endpoint.kind in LOCAL_KINDS:
            endpoint = _endpoint(LOCAL_KINDS[endpoint.kind], party.her_id, "")
            party = replace(party, endpoint=endpoint)
        placed.append(party)
    return placed


def _hospital_names(rng: random.Random, count: int) -> Iterator[str]:
    seen: set[str] = set()
    while len(seen) < count:
        name = f"Sykehuset {rng.choice(_STEMS)}{rng.choice(_ROOTS)}"
        if name not in seen:
            seen.add(name)
            yield name


def _slug(name: str, her_id: int) -> str:
    ascii_name = (
        name.lower()
        .replace("æ", "ae")
        .replace("ø", "o")
        .replace("å", "a")
        .encode("ascii", "ignore")
        .decode()
    )
    words = "".join(c if c.isalnum() else "-" for c in ascii_name).split("-")
    return "-".join(w for w in words if w)[:40].strip("-") + f"-{her_id}"
