"""Import, live updates and export through the real broker."""

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from addressregister.errors import RegisterFileError
from addressregister.fileformat import read_register_file, write_register_file
from addressregister.importer import import_file, seed_from_snapshot
from addressregister.index import RegisterIndex
from addressregister.live import LiveRegister
from addressregister.records import party_to_record
from addressregister.resolution import resolve_receiver
from addressregister.results import LookupProblem, Resolution, ResolutionFailure
from addressregister.topic import read_parties
from addressregister.wire import encode_party
from kafka_io.settings import KafkaSettings, TopicSettings, TopicSpec
from meldingshub.cli import main
from metrics.register import RegisterMetrics
from schemas.parties import PartyRef
from schemas.vocabulary import AppRecErrorCode
from tests.addressregister import support as s

pytestmark = pytest.mark.integration

VISIBLE_WITHIN_S = 2.0
REGISTRY = CollectorRegistry()
METRICS = RegisterMetrics(REGISTRY)
HOME_CARE_REF = PartyRef(organisation_her_id=s.KOMMUNE, service_her_id=s.HOME_CARE)


@pytest.fixture
def settings(kafka_bootstrap: str, topic_factory: Callable[..., str]) -> KafkaSettings:
    """Kafka settings whose parties topic is a fresh compacted topic."""
    topic = topic_factory("parties", 1, **{"cleanup.policy": "compact"})
    spec = TopicSpec(name=topic, partitions=1, config={"cleanup.policy": "compact"})
    return KafkaSettings(bootstrap_servers=kafka_bootstrap, topics=TopicSettings(parties=spec))


@pytest.fixture
def register_file(tmp_path: Path) -> Path:
    path = tmp_path / "register.json"
    write_register_file(path, s.small_parties())
    return path


@pytest.fixture
def live(settings: KafkaSettings, register_file: Path) -> Iterator[LiveRegister]:
    import_file(register_file, settings, settings.bootstrap_servers)
    register = LiveRegister(
        settings,
        settings.bootstrap_servers,
        metrics=METRICS,
        poll_interval_s=0.05,
    )
    register.start()
    register.wait_loaded(30)
    yield register
    register.stop()


def seconds_until(condition: Callable[[], bool], within_s: float) -> float:
    """Seconds until ``condition`` held; fails the test after ``within_s``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within_s:
            pytest.fail(f"condition not met within {within_s} s")
        time.sleep(0.01)
    return time.monotonic() - started


def resolve_home_care(register: LiveRegister) -> Resolution | ResolutionFailure:
    return resolve_receiver(register.snapshot(), HOME_CARE_REF, "LOG_INNLAGT", "1.6", s.NOW)


def test_import_then_live_view_holds_the_register(live: LiveRegister) -> None:
    snapshot = live.snapshot()
    assert live.loaded.is_set()
    assert {p.her_id for p in snapshot} == {p.her_id for p in s.small_parties()}
    assert isinstance(resolve_home_care(live), Resolution)


def test_deactivating_a_receiver_changes_routing_within_two_seconds(
    live: LiveRegister, settings: KafkaSettings, tmp_path: Path
) -> None:
    parties = [
        replace(p, active=False) if p.her_id == s.HOME_CARE else p for p in s.small_parties()
    ]
    update = tmp_path / "update.json"
    write_register_file(update, parties)
    plan = import_file(update, settings, settings.bootstrap_servers)
    assert [p.her_id for p in plan.upserts] == [s.HOME_CARE]

    def rejected() -> bool:
        outcome = resolve_home_care(live)
        return isinstance(outcome, ResolutionFailure) and outcome.problem is LookupProblem.INACTIVE

    took = seconds_until(rejected, VISIBLE_WITHIN_S)
    outcome = resolve_home_care(live)
    assert isinstance(outcome, ResolutionFailure) and outcome.code is AppRecErrorCode.E21
    assert took < VISIBLE_WITHIN_S


def test_removed_parties_get_tombstones(
    live: LiveRegister, settings: KafkaSettings, tmp_path: Path
) -> None:
    parties = [p for p in s.small_parties() if p.her_id != s.PHARMACY]
    smaller = tmp_path / "smaller.json"
    write_register_file(smaller, parties)
    plan = import_file(smaller, settings, settings.bootstrap_servers)
    assert plan.removals == (s.PHARMACY,) and plan.upserts == ()
    seconds_until(lambda: s.PHARMACY not in live.snapshot(), VISIBLE_WITHIN_S)
    # a new reader sees the same: the tombstone is on the topic
    state = read_parties(settings, settings.bootstrap_servers, timeout_s=30)
    assert s.PHARMACY not in state and len(state) == len(parties)


def test_a_file_with_one_bad_row_imports_nothing(
    settings: KafkaSettings, register_file: Path, tmp_path: Path
) -> None:
    records = [party_to_record(p) for p in s.small_parties()]
    records[5]["organisationNumber"] = "123456789"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"parties": records}))
    with pytest.raises(RegisterFileError) as exc:
        import_file(bad, settings, settings.bootstrap_servers)
    assert [(e.row, e.field) for e in exc.value.errors] == [(6, "organisationNumber")]
    assert read_parties(settings, settings.bootstrap_servers, timeout_s=30) == {}


def test_unreadable_records_are_skipped_and_counted(
    live: LiveRegister, settings: KafkaSettings
) -> None:
    labels = {"change": "bad_record"}
    before = REGISTRY.get_sample_value("meldingshub_register_changes_total", labels)
    new_party = s.org(777, "115", "bandagist", None)
    producer = Producer({"bootstrap.servers": settings.bootstrap_servers})
    producer.produce(settings.topics.parties.name, key=b"776", value=b"\xc3\x01garbage")
    producer.produce(settings.topics.parties.name, key=b"777", value=encode_party(new_party))
    assert producer.flush(10) == 0
    seconds_until(lambda: 777 in live.snapshot(), VISIBLE_WITHIN_S)
    assert 776 not in live.snapshot()
    after = REGISTRY.get_sample_value("meldingshub_register_changes_total", labels)
    assert after == (before or 0) + 1
    assert live.failure is None


def test_seeding_only_fills_an_empty_topic(settings: KafkaSettings, register_file: Path) -> None:
    assert seed_from_snapshot(register_file, settings, settings.bootstrap_servers) == len(
        s.small_parties()
    )
    assert seed_from_snapshot(register_file, settings, settings.bootstrap_servers) == 0
    state = read_parties(settings, settings.bootstrap_servers, timeout_s=30)
    assert RegisterIndex(state.values()).category(s.RF).value == "reseptformidleren"


def test_cli_import_export_and_look_ups(
    settings: KafkaSettings, register_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS", settings.bootstrap_servers)
    monkeypatch.setenv("MELDINGSHUB_KAFKA__TOPICS__PARTIES__NAME", settings.topics.parties.name)
    runner = CliRunner()

    records = [party_to_record(p) for p in s.small_parties()]
    records[2]["organisationNumber"] = "983044779"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(records))
    failed = runner.invoke(main, ["register", "import", str(bad)])
    assert failed.exit_code != 0
    assert "row 3 (HER-id 200), organisationNumber" in failed.output
    assert "nothing imported" in failed.output

    done = runner.invoke(main, ["register", "import", str(register_file)])
    assert done.exit_code == 0, done.output
    assert f"published {len(records)} new or changed parties" in done.output

    out = tmp_path / "export.csv"
    exported = runner.invoke(main, ["register", "export", "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    assert sorted(read_register_file(out).parties, key=lambda p: p.her_id) == sorted(
        s.small_parties(), key=lambda p: p.her_id
    )

    shown = runner.invoke(main, ["register", "show", str(s.GP)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["receivingHerId"] == s.PRACTICE

    resolved = runner.invoke(
        main, ["register", "resolve", "--organisation", str(s.PHARMACY), "--type", "HENVISNING"]
    )
    assert resolved.exit_code == 1
    assert json.loads(resolved.output)["apprecCode"] == "T10"

    found = runner.invoke(main, ["register", "search", "--kind", "person", "--json"])
    assert found.exit_code == 0, found.output
    assert len(found.output.splitlines()) == 5
