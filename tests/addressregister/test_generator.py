"""The synthetic national register: deterministic, national in size, consistent roles."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from addressregister.fileformat import read_register_file
from addressregister.generator import generate_national_register, on_this_machine
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, Endpoint, EndpointKind, PartyKind
from addressregister.resolution import resolve_receiver
from addressregister.results import Resolution
from meldingshub.cli import main
from schemas.parties import PartyRef
from schemas.vocabulary import Category

NOW = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def parties() -> list[CommunicationParty]:
    return generate_national_register(42)


@pytest.fixture(scope="module")
def index(parties: list[CommunicationParty]) -> RegisterIndex:
    return RegisterIndex(parties)


def test_same_seed_same_register_other_seed_other_register(
    parties: list[CommunicationParty],
) -> None:
    assert generate_national_register(42) == parties
    assert generate_national_register(43) != parties


def test_national_size(index: RegisterIndex) -> None:
    organisations = [p for p in index if p.kind is PartyKind.ORGANISATION]
    by_type = Counter(p.business_type for p in organisations)
    municipalities = {p.municipality for p in organisations if p.business_type == "102"}
    assert len(municipalities) == by_type["102"] == 357
    assert by_type["108"] == 1000
    gp_practices = index.search(business_type="103", name="legekontor", limit=10**6).items
    assert len(gp_practices) == 1800
    gps = [
        p
        for p in index
        if p.kind is PartyKind.PERSON and p.parent_her_id in {g.her_id for g in gp_practices}
    ]
    assert len(gps) == 5000
    assert all(p.hpr_number for p in gps)
    assert by_type["101"] == 30  # 20 health trusts and 10 private hospitals
    assert by_type["105"] > 0 and by_type["104"] > 0


def test_every_category_and_endpoint_kind_occurs(index: RegisterIndex) -> None:
    counts = index.counts_by_category()
    assert all(counts[c] > 0 for c in Category if c is not Category.UKJENT)
    assert counts[Category.UKJENT] == 0
    kinds = Counter(p.endpoint.kind for p in index if p.endpoint is not None)
    assert set(kinds) == set(EndpointKind)


def test_on_this_machine_every_receiver_is_served_by_the_hub_alone(
    parties: list[CommunicationParty],
) -> None:
    """The embedded demo's register: no RabbitMQ queue, no webhook on the network; the same
    parties and endpoints otherwise."""
    placed = on_this_machine(parties)
    assert [p.her_id for p in placed] == [p.her_id for p in parties]
    kinds = Counter(p.endpoint.kind for p in placed if p.endpoint is not None)
    assert set(kinds) == {EndpointKind.KAFKA, EndpointKind.MAILBOX, EndpointKind.FILE}
    for before, after in zip(parties, placed, strict=True):
        if before.endpoint is None or before.endpoint.kind is EndpointKind.FILE:
            assert after == before
        elif before.endpoint.kind in {EndpointKind.AMQP, EndpointKind.WEBHOOK}:
            assert after.endpoint == Endpoint(EndpointKind.MAILBOX, f"mb-{before.her_id}")
        assert after.receives == before.receives and after.parent_her_id == before.parent_her_id


def test_identifiers_are_valid_and_unique(parties: list[CommunicationParty]) -> None:
    her_ids = [p.her_id for p in parties]
    assert len(set(her_ids)) == len(her_ids)
    numbers = [p.organisation_number for p in parties if p.organisation_number]
    assert len(set(numbers)) == len(numbers)
    hpr = [p.hpr_number for p in parties if p.hpr_number]
    assert len(set(hpr)) == len(hpr)
    # parents come before their children, so the file imports in order
    seen: set[int] = set()
    for party in parties:
        assert party.parent_her_id is None or party.parent_her_id in seen
        seen.add(party.her_id)


def test_every_party_has_someone_receiving_for_it(index: RegisterIndex) -> None:
    assert all(index.receiving_party(p.her_id) is not None for p in index)
    assert index.orphans == ()


def first(index: RegisterIndex, **criteria: object) -> CommunicationParty:
    page = index.search(active=True, limit=1, **criteria)  # type: ignore[arg-type]
    assert page.items, criteria
    return page.items[0]


def test_roles_accept_what_they_should(index: RegisterIndex) -> None:
    pharmacy = first(index, category=Category.APOTEK)
    home_care = first(index, name="Hjemmesykepleie")
    rf = first(index, category=Category.RESEPTFORMIDLEREN)
    hospital = first(index, business_type="101", kind=PartyKind.ORGANISATION)
    gp = next(
        p
        for p in index
        if p.kind is PartyKind.PERSON
        and p.active
        and (parent := index.get(p.parent_her_id or 0)) is not None
        and parent.active
        and "legekontor" in parent.name
    )

    def accepts(party: CommunicationParty, message_type: str, version: str | None = None) -> bool:
        ref = (
            PartyRef(person_her_id=party.her_id)
            if party.kind is PartyKind.PERSON
            else PartyRef(service_her_id=party.her_id)
            if party.kind is PartyKind.SERVICE
            else PartyRef(party.her_id)
        )
        return isinstance(resolve_receiver(index, ref, message_type, version, NOW), Resolution)

    assert accepts(pharmacy, "ERM92") and not accepts(pharmacy, "ERM1")
    assert accepts(home_care, "LOG_INNLAGT", "1.6") and accepts(home_care, "UTSKRIVNINGSRAPPORT")
    assert not accepts(home_care, "ERM1")
    assert accepts(rf, "ERM1") and accepts(rf, "ERM10") and not accepts(rf, "LOG_INNLAGT")
    assert accepts(hospital, "HENVISNING", "1.1") and accepts(hospital, "DIALOG_FORESPORSEL")
    for message_type in ("DIALOG_FORESPORSEL", "EPIKRISE", "SVAR_LAB", "HELSEOPPLYSNINGER_LEGE"):
        assert accepts(gp, message_type), message_type
    assert accepts(gp, "ERM7") and not accepts(gp, "ERM1")


def test_cli_generate_writes_the_file_and_prints_counts(tmp_path: Path) -> None:
    out = tmp_path / "national.json"
    result = CliRunner().invoke(main, ["register", "generate", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for category in Category:
        if category is not Category.UKJENT:
            assert category.value in result.output
    assert "wrote" in result.output
    assert read_register_file(out).parties == tuple(generate_national_register(5))
