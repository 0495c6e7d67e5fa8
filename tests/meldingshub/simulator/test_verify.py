"""``verify`` finds no difference when the store counted what was sent, and every one otherwise."""

import dataclasses
import uuid
from pathlib import Path

import pytest

from access.principals import Principals
from addressregister.index import RegisterIndex
from hubstats.store import StatisticsStore
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Traffic
from meldingshub.simulator.truth import Truth, TruthFileError
from meldingshub.simulator.verify import verify
from schemas.reader import MessageReader
from schemas.records import MessageEvent
from schemas.vocabulary import EventType
from tests.meldingshub.simulator.conftest import START, route


@pytest.fixture
def simulated(
    register: RegisterIndex, principals: Principals, reader: MessageReader, tmp_path: Path
) -> tuple[StatisticsStore, Truth, list[MessageEvent]]:
    traffic = Traffic(register, NATIONAL_2019, seed=21, fault_rate=0.1, principals=principals)
    documents = list(traffic.messages(600, START))
    truth = Truth("Europe/Oslo", "kafka")
    truth.record_all(documents)
    events = [e for r in route(documents, register, principals, reader) for e in r.events]
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    store.apply(events)
    return store, truth, events


def test_a_store_that_counted_every_event_matches_the_truth(
    simulated: tuple[StatisticsStore, Truth, list[MessageEvent]],
) -> None:
    store, truth, _events = simulated
    result = verify(store, truth)
    assert result.ok, [str(d) for d in result.differences[:5]]
    assert result.cells > 50 and result.expected_total > 1000
    store.close()


def test_every_missing_or_extra_count_is_a_difference(
    simulated: tuple[StatisticsStore, Truth, list[MessageEvent]],
) -> None:
    store, truth, events = simulated
    routed = next(e for e in events if e.event_type is EventType.ROUTED and e.adapter != "hub")
    store.apply([dataclasses.replace(routed, event_id=uuid.uuid4())])  # counted twice
    hub_apprecs = sum(truth.hub_apprecs.values())
    truth.hub_apprecs["kommune"] += 1  # one more hub AppRec expected than were sent
    result = verify(store, truth)
    assert not result.ok
    texts = [str(d) for d in result.differences]
    assert len(texts) == 2, texts
    assert f"{routed.family.value}/{routed.message_type}" in texts[0]
    assert "routed expected" in texts[0]
    assert "hub AppRecs" in texts[1] and hub_apprecs > 0
    store.close()


def test_the_truth_file_reads_back_unchanged(
    simulated: tuple[StatisticsStore, Truth, list[MessageEvent]], tmp_path: Path
) -> None:
    store, truth, _events = simulated
    path = tmp_path / "truth.json"
    truth.write(path)
    again = Truth.read(path)
    assert again.to_json() == truth.to_json()
    assert verify(store, again).ok
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(TruthFileError, match="not a simulation truth file"):
        Truth.read(tmp_path / "other.json")
    store.close()
