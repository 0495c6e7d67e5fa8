"""What delivery does with one routed message, as pure functions: facts in, a decision out.

The inputs are the routed message, its retry state, what the worker knows about
the receiver (its backlog, its calls, its endpoint and breaker), the time and
the settings; the answer is a value the worker applies
(:mod:`~broker_adapters.delivery.effects`). Failures are data, as in routing.

The endpoint call lies in the middle, so there are three questions:

* :func:`place`: where does the message stand in its receiver's queue? It waits
  behind an older pending message, is given up (too old, or the receiver's backlog
  is full), or it is its turn (``None``).
* :func:`turn`: what does its turn bring? A :class:`Call`, or an outcome without
  one (the answer of an earlier call that came late, no endpoint, an open breaker,
  or its earlier call still running).
* :func:`settle`: what follows from an attempt's result? :class:`Delivered`,
  :class:`Retry` or :class:`GiveUp`. A call with no answer within the batch's wait
  is retried (:func:`left_in_flight`).
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from broker_adapters.delivery import base
from broker_adapters.delivery.backlog import Pending
from broker_adapters.delivery.retry import RetryState
from broker_adapters.delivery.settings import DeliverySettings
from kafka_io import OutRecord
from metrics.delivery import AttemptResult
from schemas.records import RoutedMessage

IN_FLIGHT = "no answer within the batch's wait; the call goes on until its deadline"
NO_ENDPOINT = "the receiver has no endpoint in the address register"


@dataclass(frozen=True, slots=True)
class Delivered:
    """The receiver has the message (or will, once ``records`` are committed)."""

    kind: str
    attempts: int
    records: tuple[OutRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class WaitBehind:
    """Wait in retry tier ``tier`` until ``due_ms`` without an attempt: behind an older
    message of the receiver, or for its own call still running."""

    tier: int
    due_ms: int

    def state(self, current: RetryState) -> RetryState:
        """The retry state the waiting record carries."""
        return RetryState(current.seq, current.attempts, self.tier, self.due_ms)


@dataclass(frozen=True, slots=True)
class Retry:
    """The attempt failed: try again from retry tier ``tier`` at ``due_ms``."""

    kind: str
    attempts: int
    reason: str
    tier: int
    due_ms: int
    counted: AttemptResult | None = None
    """An attempt that made no call, counted as this (no endpoint; breaker open)."""

    def state(self, current: RetryState) -> RetryState:
        """The retry state the retry record carries."""
        return RetryState(current.seq, self.attempts, self.tier, self.due_ms)


@dataclass(frozen=True, slots=True)
class GiveUp:
    """No more attempts: dead letter, ``delivery_failed`` and (where due) an X99 AppRec."""

    reason: str
    kind: str | None
    """None when no attempt was made for this decision (too old, backlog full)."""
    attempts: int
    counted: AttemptResult | None = None
    """An attempt that made no call, counted as this (no endpoint; breaker open)."""


@dataclass(frozen=True, slots=True)
class Call:
    """Hand the message to the receiver's ``kind`` endpoint; this is attempt ``attempt``."""

    kind: str
    attempt: int


Decision = Delivered | WaitBehind | Retry | GiveUp


@dataclass(frozen=True, slots=True)
class Queue:
    """The receiver's queue as the worker knows it when the message comes up."""

    waiting: int
    """Messages of the receiver pending in the retry tiers (its backlog)."""
    ahead: Pending | None
    """The newest pending message older than this one: what this one waits behind."""
    calling: bool
    """A call to the receiver left in flight by an earlier batch is still running."""


@dataclass(frozen=True, slots=True)
class Receiver:
    """What the worker knows about the receiver's endpoint on the message's turn."""

    kind: str | None
    """The endpoint kind in the address register; None when it has no endpoint."""
    late: base.Attempt | None = None
    """The answer of this message's earlier call, which came after its batch."""
    calling: bool = False
    """This message's earlier call is still running."""
    breaker_open: bool = False


def too_old(message: RoutedMessage, now: datetime, settings: DeliverySettings) -> bool:
    """True when the message has waited longer than ``max_age_s`` since it was routed."""
    return now - message.routed_at > timedelta(seconds=settings.max_age_s)


def too_old_reason(settings: DeliverySettings) -> str:
    """Why a message too old is given up."""
    return f"not delivered within {settings.max_age_s:g} s"


def place(
    message: RoutedMessage,
    state: RetryState,
    queue: Queue,
    now: datetime,
    settings: DeliverySettings,
    *,
    fresh: bool,
) -> WaitBehind | GiveUp | None:
    """Where a message (``fresh`` from ``hub.outbound``, or from a retry tier) stands in its
    receiver's queue; None when it is its turn.

    A fresh message waits behind a receiver that has anything pending or a call
    running, unless that backlog is full (then it is given up at once); a retried
    one is given up when too old and otherwise waits for every older pending one.
    """
    if fresh:
        if not queue.waiting and not queue.calling:
            return None
        if queue.waiting >= settings.backlog_cap:
            reason = (
                f"the receiver has {settings.backlog_cap} messages waiting "
                "already (the hub's cap per receiver)"
            )
            return GiveUp(reason, None, 0)
        return _behind(queue.ahead, now, settings)
    if too_old(message, now, settings):
        return GiveUp(too_old_reason(settings), None, state.attempts)
    if queue.ahead is not None:
        return _behind(queue.ahead, now, settings)
    return None


def turn(
    message: RoutedMessage,
    state: RetryState,
    receiver: Receiver,
    now: datetime,
    settings: DeliverySettings,
) -> Call | Decision:
    """What the message's turn brings: the call to make, or the outcome without one."""
    kind = receiver.kind or "none"
    if isinstance(receiver.late, base.HandedOver):  # the call left in flight got through
        return settle(message, state, kind, state.attempts, receiver.late, now, settings)
    if receiver.calling:  # still in flight: wait again, no new call
        return requeue(state, now, settings)
    if receiver.kind is None:
        failed = base.Failed(NO_ENDPOINT)
        decision = settle(message, state, kind, state.attempts + 1, failed, now, settings)
        return _counted(decision, AttemptResult.RETRIABLE)
    if receiver.breaker_open:
        failed = base.Failed(f"circuit breaker of the receiver's {kind} endpoint is open")
        decision = settle(message, state, kind, state.attempts, failed, now, settings)
        return _counted(decision, AttemptResult.SKIPPED)
    return Call(kind, state.attempts + 1)


def settle(
    message: RoutedMessage,
    state: RetryState,
    kind: str,
    attempts: int,
    result: base.Attempt,
    now: datetime,
    settings: DeliverySettings,
) -> Delivered | Retry | GiveUp:
    """The outcome of attempt number ``attempts``: a permanent failure, the last attempt
    or a message too old is given up; any other failure is retried from the next tier."""
    if isinstance(result, base.HandedOver):
        return Delivered(kind, attempts, result.records)
    old = too_old(message, now, settings)
    if result.permanent or attempts >= settings.max_attempts or old:
        reason = result.reason if not old else f"{too_old_reason(settings)}; last: {result.reason}"
        return GiveUp(reason, kind, attempts)
    return _retry(state, kind, attempts, result.reason, now, settings)


def left_in_flight(
    state: RetryState, kind: str, attempt: int, now: datetime, settings: DeliverySettings
) -> Retry:
    """A call with no answer within the batch's wait: its message waits in the retry path
    (the next turn uses the call's late answer, or waits again while it runs)."""
    return _retry(state, kind, attempt, IN_FLIGHT, now, settings)


def requeue(state: RetryState, now: datetime, settings: DeliverySettings) -> WaitBehind:
    """Wait one more delay of the same tier (the first for a fresh message), no attempt."""
    tier = max(state.tier, 0)
    return WaitBehind(tier, _ms(now) + _delay_ms(settings, tier))


def _behind(ahead: Pending | None, now: datetime, settings: DeliverySettings) -> WaitBehind:
    """Same tier and due time as the older pending message; a tier's delay from now when
    that one is due already (it is in flight elsewhere)."""
    tier = ahead.tier if ahead is not None else 0
    due_ms = ahead.due_ms if ahead is not None else 0
    if due_ms <= _ms(now):
        due_ms = _ms(now) + _delay_ms(settings, tier)
    return WaitBehind(tier, due_ms)


def _retry(
    state: RetryState,
    kind: str,
    attempts: int,
    reason: str,
    now: datetime,
    settings: DeliverySettings,
) -> Retry:
    tier = min(state.tier + 1, len(settings.retry_tiers) - 1)
    return Retry(kind, attempts, reason, tier, _ms(now) + _delay_ms(settings, tier))


def _counted(decision: Decision, result: AttemptResult) -> Decision:
    if isinstance(decision, Retry | GiveUp):
        return replace(decision, counted=result)
    return decision


def _delay_ms(settings: DeliverySettings, tier: int) -> int:
    return int(settings.retry_tiers[tier].delay_s * 1000)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
