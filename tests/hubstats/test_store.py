"""The statistics store on SQLite and PostgreSQL: exact, idempotent, order-free; migrations."""

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from hubstats import migrations, schema
from hubstats.errors import StoreVersionError
from hubstats.store import StatisticsStore
from schemas.vocabulary import AddressingMode, AppRecStatus, EventType, Family
from tests.hubstats.conftest import StoreFactory
from tests.hubstats.snapshot import counts_snapshot, outcome_totals
from tests.support.events import FASTLEGE, HF, KOMMUNE, Scenario, event, known_scenario

ORG = AddressingMode.ORGANISATION


def test_counts_equal_the_known_scenario(store: StatisticsStore) -> None:
    scenario = known_scenario()
    result = store.apply(scenario.events)
    assert (result.applied, result.already_applied) == (len(scenario.events), 0)
    totals = outcome_totals(store)
    expected = dict(scenario.outcomes)
    expected[("other", "accepted")] = sum(
        1 for e in scenario.events if e.event_type is EventType.ACCEPTED
    )
    assert totals == expected


def test_a_replayed_batch_counts_nothing(store: StatisticsStore) -> None:
    scenario = known_scenario()
    store.apply(scenario.events)
    before = counts_snapshot(store)
    result = store.apply(scenario.events[5:40] + scenario.events[:3])
    assert (result.applied, result.already_applied) == (0, 38)
    assert counts_snapshot(store) == before


def test_order_and_batching_do_not_change_counts_or_status(store_factory: StoreFactory) -> None:
    scenario = known_scenario()
    whole = store_factory()
    whole.apply(scenario.events)
    shuffled = list(scenario.events) * 2  # every event twice, in any order, in small batches
    random.Random(7).shuffle(shuffled)
    pieces = store_factory()
    for start in range(0, len(shuffled), 17):
        pieces.apply(shuffled[start : start + 17])
    assert counts_snapshot(pieces) == counts_snapshot(whole)
    for hub_id in scenario.msg_ids.values():
        a, b = whole.message_status(hub_id), pieces.message_status(hub_id)
        assert a is not None and b is not None
        assert (a.transport_state, a.apprec_state, a.receivers_routed) == (
            b.transport_state,
            b.apprec_state,
            b.receivers_routed,
        )


def test_days_are_norwegian_calendar_days(store: StatisticsStore) -> None:
    # 23:30 UTC on 31 December is already 1 January in Oslo.
    late = datetime(2023, 12, 31, 23, 30, tzinfo=UTC)
    store.apply([event(EventType.ROUTED, uuid.uuid4(), at=late)])
    with store.engine.connect() as conn:
        days = conn.execute(sa.select(schema.daily_counts.c.day)).scalars().all()
    assert days == [date(2024, 1, 1)]


def test_distinct_senders_are_counted_per_organisation(store: StatisticsStore) -> None:
    scenario = known_scenario()
    store.apply(scenario.events)
    table = schema.sender_daily
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(table.c.sender_her_id, table.c.count).where(table.c.message_type == "ERM1")
        ).all()
    assert sorted((her, int(n)) for her, n in rows) == [(1001, 1), (3001, 2), (3002, 1)]


def test_message_status_follows_each_message(store: StatisticsStore) -> None:
    s = Scenario()
    sender, receiver = (1001, HF), (2001, KOMMUNE)
    plo = s.message(
        Family.PLO, "INNLEGGELSESRAPPORT", sender, receiver, ORG, apprec=AppRecStatus.REJECTED
    )
    rejected = s.message(
        Family.BASIS, "HENVISNING", (3001, FASTLEGE), (1001, HF), ORG, rejected="T02"
    )
    failed = s.message(Family.BASIS, "EPIKRISE", sender, (3001, FASTLEGE), ORG, delivery="failed")
    first_msg_id = next(m for m, h in s.msg_ids.items() if h == plo)
    resend = s.message(
        Family.PLO, "INNLEGGELSESRAPPORT", sender, receiver, ORG, duplicate_of=first_msg_id
    )
    store.apply(s.events)

    status = store.message_status(plo)
    assert status is not None
    assert status.transport_state == "delivered"
    assert status.apprec_state == "REJECTED"
    assert [(a.receiver_her_id, a.reason_code) for a in status.apprecs] == [(2001, "E21")]
    assert status.principal == "epj-system-1"
    assert (status.family, status.message_type, status.sender_her_id) == (
        "plo",
        "INNLEGGELSESRAPPORT",
        1001,
    )
    bad = store.message_status(str(rejected))
    assert bad is not None and (bad.transport_state, bad.reason_code) == ("rejected", "T02")
    failing = store.message_status(failed)
    assert failing is not None
    assert (failing.transport_state, failing.delivery_retries) == ("delivery_failed", 1)
    duplicate = store.message_status(resend)
    assert duplicate is not None and duplicate.transport_state == "duplicate"
    assert store.message_status(uuid.uuid4()) is None
    assert store.message_status("not-a-hub-id") is None


def test_status_of_an_accepted_message_before_routing(store: StatisticsStore) -> None:
    hub_id = uuid.uuid4()
    store.apply([event(EventType.ACCEPTED, hub_id, msg_id="m-1")])
    status = store.message_status(hub_id)
    assert status is not None
    assert (status.transport_state, status.apprec_state, status.msg_id) == (
        "accepted",
        "none",
        "m-1",
    )


def test_prune_forgets_old_ids_and_statuses_but_keeps_counts(store: StatisticsStore) -> None:
    scenario = known_scenario()
    store.apply(scenario.events)
    counts = counts_snapshot(store)
    assert store.prune(datetime.now(UTC) - timedelta(days=1)) == 0
    removed = store.prune(datetime.now(UTC) + timedelta(seconds=1))
    assert removed == len(scenario.events)
    assert counts_snapshot(store) == counts
    assert store.message_status(next(iter(scenario.msg_ids.values()))) is None


def test_migrations_are_recorded_and_run_once(store: StatisticsStore) -> None:
    with store.engine.connect() as conn:
        assert migrations.current_version(conn) == migrations.LATEST_VERSION
    assert store.migrate() == 0


def test_migrated_tables_match_the_model(store: StatisticsStore) -> None:
    """Catches a change to hubstats/schema.py that has no migration."""
    inspector = sa.inspect(store.engine)
    for table in schema.metadata.sorted_tables:
        found = {c["name"] for c in inspector.get_columns(table.name)}
        assert found == set(table.columns.keys()), table.name
        primary = inspector.get_pk_constraint(table.name)["constrained_columns"]
        assert set(primary) == {c.name for c in table.primary_key}, table.name


def test_a_store_from_a_newer_hub_is_refused(store: StatisticsStore) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            migrations.version_table.insert().values(
                version=migrations.LATEST_VERSION + 1, applied_at=datetime.now(UTC)
            )
        )
    with pytest.raises(StoreVersionError, match="newer than this hub"):
        store.migrate()
