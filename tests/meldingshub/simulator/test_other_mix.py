"""The "other" medical messages go to the national body that receives them, and the mixes of
2019 and 2020 reproduce the published totals (211.5 M and 193.5 M) at the chosen scale."""

from collections import Counter

import pytest

from access.principals import Principals
from addressregister.index import RegisterIndex
from meldingshub.simulator.documents import entry_for
from meldingshub.simulator.mix import MEDICAL_TOTAL, MIXES, NATIONAL_2019, NATIONAL_2020, Mix
from meldingshub.simulator.traffic import Traffic, year_plan
from schemas.reader import MessageReader
from schemas.vocabulary import Category, Family
from tests.meldingshub.simulator.conftest import route


@pytest.mark.parametrize("mix", [NATIONAL_2019, NATIONAL_2020], ids=lambda m: m.name)
def test_every_other_flow_goes_to_the_body_its_standard_names(mix: Mix) -> None:
    others = [flow for flow in mix.flows if flow.family is Family.OTHER]
    assert others
    for flow in others:
        for message_type, _ in flow.types:
            entry = entry_for(message_type, "", Family.OTHER)
            assert entry.receiver_category is flow.receiver, (message_type, entry.standard)
    receivers = {flow.receiver for flow in others}
    assert Category.HELFO in receivers and Category.NAV in receivers
    to_fhi = {t for flow in others if flow.receiver is Category.FHI for t, _ in flow.types}
    assert "LOM" not in to_fhi and "BEHANDLERKRAV" not in to_fhi
    to_helfo = {t for flow in others if flow.receiver is Category.HELFO for t, _ in flow.types}
    assert {"LOM", "BEHANDLERKRAV"} <= to_helfo


@pytest.mark.parametrize("scale", [1_000, 10_000])
@pytest.mark.parametrize("year", [2019, 2020])
def test_the_simulated_year_matches_the_published_total_within_1_percent(
    year: int, scale: int
) -> None:
    mix = MIXES[f"national-{year}"]
    planned = sum(n for flow in year_plan(mix, scale) for month in flow for n in month)
    assert planned * scale == pytest.approx(MEDICAL_TOTAL[year], rel=0.01)
    assert sum(mix.family_totals().values()) == pytest.approx(MEDICAL_TOTAL[year], rel=0.001)


def test_2020_keeps_the_published_basis_and_prescription_figures() -> None:
    totals = NATIONAL_2020.family_totals()
    assert totals[Family.BASIS] == pytest.approx(47_000_000, rel=0.001)
    prescribed = sum(f.total for f in NATIONAL_2020.flows if f.types == (("ERM1", 1.0),))
    assert prescribed == pytest.approx(28_400_000, rel=0.001)


def test_generated_other_messages_route_to_their_bodies(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> None:
    traffic = Traffic(register, NATIONAL_2020, seed=5, fault_rate=0.0, principals=principals)
    documents = list(traffic.year(2020, 100_000))
    routed = route(documents, register, principals, reader)
    received: Counter[tuple[str, str]] = Counter()
    refused: Counter[str] = Counter()
    for result in routed:
        for dims, column in result.counts:
            if dims.family == "other" and column == "routed":
                received[(dims.message_type, dims.receiver_category)] += 1
            elif dims.family == "other" and column == "rejected":
                refused[dims.message_type] += 1
    assert received, "the year sent no other messages"
    assert refused == Counter()
    bodies = dict(received.keys())
    assert bodies["LOM"] == "helfo"
    assert bodies["SYKMELD"] == "nav"
    assert all(
        receiver == entry_for(message_type, "", Family.OTHER).receiver_category
        for message_type, receiver in received
    )
