"""Delivery's decisions as pure functions: facts in, a decision out (no broker, no clock)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from addressregister.model import Endpoint, EndpointKind
from broker_adapters.delivery import base
from broker_adapters.delivery.backlog import Pending
from broker_adapters.delivery.breaker import Breakers
from broker_adapters.delivery.decision import (
    IN_FLIGHT,
    NO_ENDPOINT,
    Call,
    Delivered,
    GiveUp,
    Queue,
    Receiver,
    Retry,
    WaitBehind,
    left_in_flight,
    place,
    settle,
    turn,
)
from broker_adapters.delivery.retry import RetryState
from broker_adapters.delivery.settings import BreakerSettings, DeliverySettings, RetryTier
from kafka_io import OutRecord
from metrics.delivery import AttemptResult
from schemas.records import RoutedMessage
from tests.broker_adapters.delivery.support import routed

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
SETTINGS = DeliverySettings(
    retry_tiers=[RetryTier(name="a", delay_s=10), RetryTier(name="b", delay_s=60)],
    max_attempts=3,
    max_age_s=3600,
    backlog_cap=5,
)
RECEIVER = 8_200_001
IDLE = Queue(waiting=0, ahead=None, calling=False)
WEBHOOK = Receiver(kind="webhook")


def message(age_s: float = 60) -> RoutedMessage:
    return replace(routed(RECEIVER, 1), routed_at=NOW - timedelta(seconds=age_s))


def fresh(seq: int = 40) -> RetryState:
    return RetryState(seq=seq, attempts=0, tier=-1, due_ms=NOW_MS)


def retried(attempts: int, tier: int, seq: int = 40) -> RetryState:
    return RetryState(seq=seq, attempts=attempts, tier=tier, due_ms=NOW_MS)


# -- place: the message in its receiver's queue -----------------------------------------------


def test_a_fresh_message_to_an_idle_receiver_has_its_turn() -> None:
    assert place(message(), fresh(), IDLE, NOW, SETTINGS, fresh=True) is None


def test_a_fresh_message_waits_behind_the_receivers_pending_one_in_its_tier() -> None:
    ahead = Pending(seq=7, tier=1, due_ms=NOW_MS + 30_000)
    queue = Queue(waiting=1, ahead=ahead, calling=False)
    assert place(message(), fresh(), queue, NOW, SETTINGS, fresh=True) == WaitBehind(
        1, NOW_MS + 30_000
    )


def test_behind_one_already_due_it_waits_a_tier_delay_from_now() -> None:
    ahead = Pending(seq=7, tier=1, due_ms=NOW_MS - 1)
    queue = Queue(waiting=1, ahead=ahead, calling=False)
    assert place(message(), fresh(), queue, NOW, SETTINGS, fresh=True) == WaitBehind(
        1, NOW_MS + 60_000
    )


def test_a_fresh_message_waits_while_a_call_to_its_receiver_runs() -> None:
    queue = Queue(waiting=0, ahead=None, calling=True)
    assert place(message(), fresh(), queue, NOW, SETTINGS, fresh=True) == WaitBehind(
        0, NOW_MS + 10_000
    )


def test_a_full_backlog_gives_a_fresh_message_up_without_an_attempt() -> None:
    queue = Queue(waiting=5, ahead=Pending(4, 0, NOW_MS + 1), calling=False)
    decision = place(message(), fresh(), queue, NOW, SETTINGS, fresh=True)
    assert isinstance(decision, GiveUp)
    assert (decision.kind, decision.attempts) == (None, 0)
    assert "5 messages waiting" in decision.reason


def test_a_retried_message_too_old_is_given_up_with_its_attempts() -> None:
    decision = place(message(age_s=3601), retried(2, 0), IDLE, NOW, SETTINGS, fresh=False)
    assert decision == GiveUp("not delivered within 3600 s", None, 2)


def test_a_retried_message_waits_for_every_older_pending_one() -> None:
    ahead = Pending(seq=7, tier=0, due_ms=NOW_MS + 5_000)
    queue = Queue(waiting=2, ahead=ahead, calling=False)
    assert place(message(), retried(1, 0), queue, NOW, SETTINGS, fresh=False) == WaitBehind(
        0, NOW_MS + 5_000
    )
    alone = Queue(waiting=1, ahead=None, calling=True)  # only itself pending: its turn
    assert place(message(), retried(1, 0), alone, NOW, SETTINGS, fresh=False) is None


# -- turn: the call, or the outcome without one -----------------------------------------------


def test_its_turn_calls_the_endpoint_with_the_next_attempt_number() -> None:
    assert turn(message(), retried(1, 0), WEBHOOK, NOW, SETTINGS) == Call("webhook", 2)


def test_a_late_answer_that_got_through_is_delivered_without_a_new_call() -> None:
    record = OutRecord(topic="receiver.topic", key=None, value=b"x")
    facts = replace(WEBHOOK, late=base.HandedOver((record,)), calling=True, breaker_open=True)
    assert turn(message(), retried(1, 0), facts, NOW, SETTINGS) == Delivered(
        "webhook", 1, (record,)
    )


def test_a_late_failure_is_not_an_outcome_the_message_is_called_again() -> None:
    facts = replace(WEBHOOK, late=base.Failed("503"))
    assert turn(message(), retried(1, 0), facts, NOW, SETTINGS) == Call("webhook", 2)


def test_while_its_own_call_runs_the_message_waits_in_its_tier() -> None:
    facts = replace(WEBHOOK, calling=True)
    assert turn(message(), retried(1, 1), facts, NOW, SETTINGS) == WaitBehind(1, NOW_MS + 60_000)
    assert turn(message(), fresh(), facts, NOW, SETTINGS) == WaitBehind(0, NOW_MS + 10_000)


def test_no_endpoint_counts_as_a_failed_attempt() -> None:
    decision = turn(message(), retried(1, 0), Receiver(kind=None), NOW, SETTINGS)
    assert decision == Retry(
        "none", 2, NO_ENDPOINT, 1, NOW_MS + 60_000, counted=AttemptResult.RETRIABLE
    )
    last = turn(message(), retried(2, 1), Receiver(kind=None), NOW, SETTINGS)
    assert last == GiveUp(NO_ENDPOINT, "none", 3, counted=AttemptResult.RETRIABLE)


def test_an_open_breaker_skips_the_call_without_spending_an_attempt() -> None:
    decision = turn(message(), retried(1, 0), replace(WEBHOOK, breaker_open=True), NOW, SETTINGS)
    assert isinstance(decision, Retry)
    assert (decision.attempts, decision.tier, decision.counted) == (1, 1, AttemptResult.SKIPPED)
    assert "circuit breaker" in decision.reason


# -- settle: the outcome of an attempt --------------------------------------------------------


def test_a_failed_attempt_is_retried_from_the_next_tier_up_to_the_last() -> None:
    failed = base.Failed("HTTP 503")
    first = settle(message(), fresh(), "webhook", 1, failed, NOW, SETTINGS)
    assert first == Retry("webhook", 1, "HTTP 503", 0, NOW_MS + 10_000)
    later = settle(message(), retried(1, 1), "webhook", 2, failed, NOW, SETTINGS)
    assert later == Retry("webhook", 2, "HTTP 503", 1, NOW_MS + 60_000)  # stays in the last


@pytest.mark.parametrize(
    ("result", "attempts", "age_s", "reason"),
    [
        (base.Failed("HTTP 410", permanent=True), 1, 60, "HTTP 410"),
        (base.Failed("HTTP 503"), 3, 60, "HTTP 503"),
        (base.Failed("HTTP 503"), 1, 3601, "not delivered within 3600 s; last: HTTP 503"),
    ],
    ids=["permanent", "last-attempt", "too-old"],
)
def test_a_permanent_failure_the_last_attempt_or_a_message_too_old_is_given_up(
    result: base.Failed, attempts: int, age_s: float, reason: str
) -> None:
    decision = settle(message(age_s), retried(0, 0), "amqp", attempts, result, NOW, SETTINGS)
    assert decision == GiveUp(reason, "amqp", attempts)


def test_a_call_left_in_flight_is_retried_even_on_its_last_attempt() -> None:
    decision = left_in_flight(retried(2, 0), "webhook", 3, NOW, SETTINGS)
    assert decision == Retry("webhook", 3, IN_FLIGHT, 1, NOW_MS + 60_000)
    assert decision.state(retried(2, 0)) == RetryState(40, 3, 1, NOW_MS + 60_000)


def test_breaker_permits_asks_without_taking_the_half_open_probe() -> None:
    now = [0.0]
    breakers = Breakers(BreakerSettings(failure_threshold=1, open_s=10), lambda: now[0])
    down = Endpoint(EndpointKind.WEBHOOK, "https://down.example/hook")
    breakers.failed(down)
    assert not breakers.permits(down)
    now[0] = 11.0
    assert breakers.permits(down)
    assert breakers.permits(down)  # asking twice takes nothing
    assert breakers.allow(down)  # the probe
    assert not breakers.permits(down)
    assert not breakers.allow(down)
