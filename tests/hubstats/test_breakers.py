"""Delivery workers publish their circuit breakers; the console reads the live ones."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hubstats import schema
from hubstats.breakers import STALE_AFTER, breaker_states, endpoint_digest, publish_breakers
from hubstats.store import StatisticsStore

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_each_worker_replaces_its_own_rows_and_stale_ones_are_not_shown(
    store: StatisticsStore,
) -> None:
    publish_breakers(
        store.engine,
        "delivery-a",
        [
            ("webhook", "https://down.example/hook", "open", 5, 30.0),
            ("amqp", "1_async", "half_open", 6, 0.0),
        ],
        NOW,
    )
    publish_breakers(store.engine, "delivery-b", [("file", "outbox/2", "open", 5, 10.0)], NOW)
    states = breaker_states(store.engine, NOW)
    hook = endpoint_digest("webhook", "https://down.example/hook")
    queue, outbox = endpoint_digest("amqp", "1_async"), endpoint_digest("file", "outbox/2")
    assert set(states) == {hook, queue, outbox}
    webhook = states[hook]
    assert (webhook.state, webhook.failures) == ("open", 5)
    assert webhook.retry_at == NOW + timedelta(seconds=30)

    later = NOW + timedelta(seconds=5)
    publish_breakers(store.engine, "delivery-a", [], later)  # its breakers closed meanwhile
    assert set(breaker_states(store.engine, later)) == {outbox}
    gone = later + STALE_AFTER + timedelta(seconds=1)  # delivery-b stopped publishing
    assert breaker_states(store.engine, gone) == {}


def test_an_address_is_kept_only_as_a_digest(store: StatisticsStore) -> None:
    """A webhook URL may carry a secret: the table names the endpoint by a digest."""
    url = "https://epj.example.no/hook?token=hemmelig"
    publish_breakers(store.engine, "delivery-a", [("webhook", url, "open", 5, 30.0)], NOW)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(schema.delivery_breakers)).all()
    assert rows and all("hemmelig" not in str(tuple(row)) for row in rows)
