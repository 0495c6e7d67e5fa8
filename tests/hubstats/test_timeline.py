"""The console's data: each message's timeline, message search and the receivers' state."""

import uuid
from datetime import timedelta
from typing import Any

from hubstats.search import MessageQuery, receiver_overview, search_messages
from hubstats.store import StatisticsStore
from hubstats.timeline import REPLAYED, record_replay, timeline
from schemas.records import MessageEvent
from schemas.vocabulary import AppRecStatus, EventType, Family
from tests.support.events import KOMMUNE, T0, event


def _delivered_life(message: uuid.UUID) -> list[MessageEvent]:
    return [
        event(EventType.ACCEPTED, message, at=T0, msg_id="m-1"),
        event(EventType.ROUTED, message, at=T0 + timedelta(milliseconds=20), msg_id="m-1"),
        event(
            EventType.DELIVERY_RETRIED,
            message,
            at=T0 + timedelta(seconds=1),
            msg_id="m-1",
            endpoint_kind="amqp",
            attempt=1,
            reason="connection refused",
            next_attempt_at=T0 + timedelta(seconds=11),
        ),
        event(
            EventType.DELIVERED,
            message,
            at=T0 + timedelta(seconds=31),
            msg_id="m-1",
            endpoint_kind="amqp",
            attempt=2,
        ),
    ]


def test_timeline_lists_every_step_in_order_with_durations(store: StatisticsStore) -> None:
    message = uuid.uuid4()
    events = _delivered_life(message)
    store.apply(list(reversed(events)))  # arrival order does not matter
    store.apply(events)  # nor does a re-delivery
    apprec = event(
        EventType.APPREC_ROUTED,
        uuid.uuid4(),
        family=Family.APPREC,
        message_type="APPREC",
        sender=(200, events[0].receiver_category),
        receiver=(100, events[0].sender_category),
        at=T0 + timedelta(seconds=40),
        original_msg_id="m-1",
        apprec_status=AppRecStatus.OK,
    )
    store.apply([apprec])

    steps = timeline(store.engine, message)

    assert [s.stage for s in steps] == [
        "accepted",
        "routed",
        "delivery_retried",
        "delivered",
        "apprec_routed",
    ]
    assert steps[0].since_previous is None
    assert steps[3].since_previous == timedelta(seconds=30)
    assert (steps[2].endpoint_kind, steps[2].attempt) == ("amqp", 1)
    assert steps[2].next_attempt_at == T0 + timedelta(seconds=11)
    assert steps[3].next_attempt_at is None
    assert steps[4].receiver_her_id == 200  # who answered
    assert steps[4].apprec_status == AppRecStatus.OK.value


def test_a_replay_is_on_the_original_timeline(store: StatisticsStore) -> None:
    message, again = uuid.uuid4(), uuid.uuid4()
    store.apply([event(EventType.REJECTED, message, reason_code="E20", reason="no receiver")])
    record_replay(store.engine, message, again, "operator-1", T0 + timedelta(minutes=5))

    steps = timeline(store.engine, message)

    assert [(s.stage, s.reason_code) for s in steps] == [("rejected", "E20"), (REPLAYED, None)]
    assert steps[1].related_hub_message_id == again
    assert steps[1].principal == "operator-1"


def test_search_by_msg_id_hub_id_and_her_ids(store: StatisticsStore) -> None:
    delivered, rejected = uuid.uuid4(), uuid.uuid4()
    store.apply(_delivered_life(delivered))
    store.apply(
        [
            event(
                EventType.REJECTED,
                rejected,
                msg_id="m-2",
                sender=(300, KOMMUNE),
                receiver=(400, KOMMUNE),
                reason_code="E20",
                at=T0 + timedelta(minutes=1),
            )
        ]
    )

    def ids(**criteria: Any) -> list[uuid.UUID]:
        page = search_messages(store.engine, MessageQuery(**criteria))
        return [row.hub_message_id for row in page.rows]

    assert ids(q="m-1") == [delivered]
    assert ids(q=str(rejected)) == [rejected]
    assert ids(q="100") == [delivered]  # the sender
    assert ids(q="200") == [delivered]  # the receiver
    assert ids() == [rejected, delivered]  # newest first
    assert ids(state="delivered") == [delivered]
    assert ids(state="rejected") == [rejected]
    assert ids(state="routed") == []
    assert ids(since=T0 + timedelta(seconds=30)) == [rejected]
    row = search_messages(store.engine, MessageQuery(q="m-1")).rows[0]
    assert (row.sender_her_id, row.receivers, row.state) == (100, (200,), "delivered")
    first = search_messages(store.engine, MessageQuery(page_size=1))
    assert first.more and len(first.rows) == 1
    assert not search_messages(store.engine, MessageQuery(page_size=1, page=2)).more


def test_receiver_overview_from_events(store: StatisticsStore) -> None:
    store.apply(_delivered_life(uuid.uuid4()))
    waiting = uuid.uuid4()
    store.apply(
        [
            event(EventType.ROUTED, waiting, receiver=(500, KOMMUNE)),
            event(
                EventType.DELIVERY_RETRIED,
                waiting,
                receiver=(500, KOMMUNE),
                endpoint_kind="webhook",
                attempt=1,
            ),
        ]
    )

    rows = {row.receiver_her_id: row for row in receiver_overview(store.engine)}

    assert rows[200].last_success == T0 + timedelta(seconds=31)
    assert (rows[200].backlog, rows[200].failures_since_success) == (0, 0)
    assert (rows[500].backlog, rows[500].failures_since_success) == (1, 1)
    assert rows[500].last_success is None and rows[500].endpoint_kind == "webhook"


def test_a_search_value_no_column_can_hold_finds_nothing(store: StatisticsStore) -> None:
    """PostgreSQL text cannot hold NUL: a query with one matches nothing (not a DataError)."""
    store.apply(_delivered_life(uuid.uuid4()))
    for query in (MessageQuery(q="m-1\x00"), MessageQuery(message_type="\x00")):
        assert search_messages(store.engine, query).rows == ()
