"""The aggregator on a real broker: exact counts through a crash, a restart and a replay."""

import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa
from confluent_kafka import Producer
from prometheus_client import CollectorRegistry

from hubstats import schema
from hubstats.aggregator import StatisticsAggregator
from hubstats.settings import StatisticsSettings
from hubstats.store import ApplyResult, StatisticsStore
from kafka_io.settings import KafkaSettings, TopicSettings, TopicSpec
from metrics.live import HubMetrics
from schemas.records import MessageEvent, encode
from tests.conftest import TopicFactory
from tests.hubstats.conftest import StoreFactory
from tests.hubstats.snapshot import counts_snapshot, outcome_totals
from tests.support.events import known_scenario
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class SimulatedCrashError(Exception):
    """The process dies after the database commit and before the Kafka offset commit."""


class CrashingStore(StatisticsStore):
    """Applies batches normally, then dies right after the ``crash_on``-th one."""

    def __init__(self, engine: sa.Engine, crash_on: int) -> None:
        super().__init__(engine)
        self.crash_on = crash_on
        self.batches = 0

    def apply(self, events: Sequence[MessageEvent]) -> ApplyResult:
        result = super().apply(events)
        self.batches += 1 if events else 0  # a batch of only the garbage record does not count
        if self.batches == self.crash_on:
            raise SimulatedCrashError
        return result


def produce(bootstrap: str, topic: str, events: Sequence[MessageEvent]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "log_level": 3})
    producer.produce(topic, key=b"garbage", value=b"not an avro record")
    for item in events:
        producer.produce(topic, key=str(item.event_id).encode(), value=encode(item))
    assert producer.flush(30) == 0


def processed(store: StatisticsStore) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(schema.processed_events)
            ).scalar_one()
        )


class Running:
    """An aggregator in a thread; the exception it died of, if any, is kept."""

    def __init__(self, aggregator: StatisticsAggregator) -> None:
        self.aggregator = aggregator
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.aggregator.run(self.stop)
        except BaseException as exc:
            self.error = exc

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()


def test_counts_are_exact_through_a_crash_a_restart_and_a_replay(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    store_factory: StoreFactory,
) -> None:
    topic = topic_factory("events", partitions=3)
    kafka = kafka_settings.model_copy(
        update={"topics": TopicSettings(events=TopicSpec(name=topic, partitions=3))}
    )
    scenario = known_scenario()
    produce(kafka_bootstrap, topic, scenario.events)
    settings = StatisticsSettings(group_id=f"stats-{topic}", batch_size=20, poll_timeout_s=0.1)

    # 1. crash after the second batch is in the database but before its offsets are committed
    store = store_factory()
    crashing = Running(
        StatisticsAggregator(kafka, kafka_bootstrap, CrashingStore(store.engine, 2), settings)
    )
    crashing.thread.join(60)
    assert isinstance(crashing.error, SimulatedCrashError)
    assert 0 < processed(store) < len(scenario.events)

    # 2. restart in the same group: the uncommitted batch (with at least one event) comes
    #    again and is skipped
    registry = CollectorRegistry()
    restarted = Running(
        StatisticsAggregator(kafka, kafka_bootstrap, store, settings, HubMetrics(registry))
    )
    try:
        wait_for(lambda: processed(store) == len(scenario.events), 60, "the restarted aggregator")
        wait_for(restarted.aggregator.ready, 60, "readiness")
    finally:
        restarted.close()
    assert restarted.error is None
    assert (
        registry.get_sample_value(
            "meldingshub_aggregator_events_total", {"result": "already_applied"}
        )
        or 0
    ) > 0
    expected = dict(scenario.outcomes)
    expected[("other", "accepted")] = len(scenario.events) - sum(expected.values())
    assert outcome_totals(store) == expected

    # 3. replay hub.events from the start into a fresh store: identical counts, and the
    #    live metrics it drives agree with them
    fresh = store_factory()
    live = CollectorRegistry()
    replay_settings = settings.model_copy(update={"group_id": f"replay-{topic}", "batch_size": 500})
    replay = Running(
        StatisticsAggregator(kafka, kafka_bootstrap, fresh, replay_settings, HubMetrics(live))
    )
    try:
        wait_for(lambda: processed(fresh) == len(scenario.events), 60, "the replay")
    finally:
        replay.close()
    assert counts_snapshot(fresh) == counts_snapshot(store)
    skipped = live.get_sample_value(
        "meldingshub_aggregator_events_total", {"result": "undecodable"}
    )
    assert skipped == 1  # the garbage record was skipped, not fatal
    for (family, outcome), count in scenario.outcomes.items():
        observed = sum(
            s.value
            for m in live.collect()
            if m.name == "meldingshub_messages"
            for s in m.samples
            if s.name.endswith("_total")
            and s.labels["family"] == family
            and s.labels["outcome"] == outcome
        )
        assert observed == count, (family, outcome)
    assert (
        live.get_sample_value("meldingshub_consumer_lag_messages", {"group": f"replay-{topic}"})
        is not None
    )


class FlakyStore(StatisticsStore):
    """The database is unreachable for the first ``failures`` batches."""

    def __init__(self, engine: sa.Engine, failures: int) -> None:
        super().__init__(engine)
        self.failures = failures

    def apply(self, events: Sequence[MessageEvent]) -> ApplyResult:
        if self.failures:
            self.failures -= 1
            raise sa.exc.OperationalError("INSERT", {}, Exception("database is down"))
        return super().apply(events)


def test_a_database_outage_retries_the_batch_and_loses_nothing(
    kafka_settings: KafkaSettings,
    kafka_bootstrap: str,
    topic_factory: TopicFactory,
    tmp_path: Path,
) -> None:
    topic = topic_factory("events", partitions=1)
    kafka = kafka_settings.model_copy(
        update={"topics": TopicSettings(events=TopicSpec(name=topic, partitions=1))}
    )
    scenario = known_scenario()
    produce(kafka_bootstrap, topic, scenario.events)
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    flaky = FlakyStore(store.engine, failures=2)
    settings = StatisticsSettings(group_id=f"stats-{topic}", poll_timeout_s=0.1)
    running = Running(StatisticsAggregator(kafka, kafka_bootstrap, flaky, settings))
    try:
        wait_for(lambda: processed(store) == len(scenario.events), 60, "the retried batch")
        wait_for(running.aggregator.ready, 60, "readiness after the outage")
    finally:
        running.close()
    assert running.error is None
    assert flaky.failures == 0
    expected = dict(scenario.outcomes)
    expected[("other", "accepted")] = len(scenario.events) - sum(expected.values())
    assert outcome_totals(store) == expected
