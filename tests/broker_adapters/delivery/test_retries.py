"""Retries against real failing receivers: an outage that ends, one that never does, and a
receiver that refuses; other receivers are served meanwhile."""

import re
import threading
import time
from pathlib import Path

import pytest

from addressregister.index import RegisterIndex
from addressregister.model import EndpointKind
from broker_adapters.delivery.mailbox_store import MailboxStore
from schemas.records import (
    DeliveryStatus,
    MessageEvent,
    RejectedMessage,
    RejectStage,
    RoutedMessage,
    decode,
)
from schemas.vocabulary import AppRecErrorCode, EventType, Family
from tests.broker_adapters.delivery.support import (
    SENDER,
    WebhookReceiver,
    component,
    hub_topics,
    party,
    produce,
    routed,
)
from tests.support.kafka import read_all
from tests.support.waiting import running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLAKY = 9_300_001
HEALTHY = (9_300_010, 9_300_011, 9_300_012)


def _events(bootstrap: str, topic: str, expected: int) -> list[MessageEvent]:
    return [
        decode(r.value() or b"", MessageEvent) for r in read_all(bootstrap, topic, expected, 30)
    ]


def test_an_outage_is_ridden_out_in_order_while_others_are_served_at_once(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    """The issue's "webhook fails for 3 minutes, then recovers", scaled down: a 20 s outage with
    retry tiers of 1, 2 and 4 s and a breaker that opens after 3 failures for 2-4 s. Messages
    keep arriving for the flaky receiver and three healthy ones (webhook, file, mailbox)
    throughout; the flaky one gets each message exactly once and in order after it recovers,
    and the others' ingress-to-delivered time stays what it is without an outage."""
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    outage_s, sending_s, rate_hz = 20.0, 24.0, 5
    outage_ends = time.monotonic() + outage_s
    with (
        hub_topics(kafka_bootstrap, tiers=(1.0, 2.0, 4.0), failure_threshold=3, open_s=2.0) as hub,
        WebhookReceiver(
            failing=lambda path: path == "/flaky" and time.monotonic() < outage_ends
        ) as hooks,
    ):
        hub.delivery.breaker.max_open_s = 4.0
        register = RegisterIndex(
            [
                party(FLAKY, EndpointKind.WEBHOOK, hooks.url("/flaky")),
                party(HEALTHY[0], EndpointKind.WEBHOOK, hooks.url("/healthy")),
                party(HEALTHY[1], EndpointKind.FILE, "healthy"),
                party(HEALTHY[2], EndpointKind.MAILBOX, "healthy"),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        to_flaky: list[RoutedMessage] = []
        to_healthy: list[RoutedMessage] = []

        def send() -> None:
            n = 0
            while time.monotonic() < outage_ends - outage_s + sending_s:
                batch = [routed(FLAKY, n)] + [routed(h, n) for h in HEALTHY]
                to_flaky.append(batch[0])
                to_healthy.extend(batch[1:])
                produce(kafka_bootstrap, hub.outbound, batch)
                n += 1
                time.sleep(1 / rate_hz)  # the arrival rate of the scenario, not a wait

        worker = component(hub, kafka_bootstrap, register, mailbox, tmp_path / "outbox")
        with running(worker, until_ready=True):
            sender = threading.Thread(target=send)
            sender.start()
            sender.join()
            wait_for(
                lambda: len(hooks.delivered("/flaky")) >= len(to_flaky),
                40,
                "the flaky receiver to get every message",
            )
            total = len(to_flaky) + len(to_healthy)
            events = _events(kafka_bootstrap, hub.events, total)
        assert time.monotonic() > outage_ends
        flaky = hooks.delivered("/flaky")
        keys = [r.headers["Idempotency-Key"] for r in flaky]
        assert len(keys) == len(set(keys)) == len(to_flaky)  # exactly once
        assert [r.body for r in flaky] == [m.payload for m in to_flaky]  # in order
        assert len(hooks.attempts("/flaky")) > len(to_flaky)  # it really failed meanwhile
        delivered = {e.hub_message_id: e for e in events if e.event_type is EventType.DELIVERED}
        assert len(delivered) == total
        during = [m for m in to_healthy if m.routed_at.timestamp() < time.time() - 1]
        latencies = [
            (delivered[m.hub_message_id].occurred_at - m.routed_at).total_seconds() for m in during
        ]
        # anything that waited on the flaky receiver would take at least the first tier (1 s)
        assert max(latencies) < 1.0, sorted(latencies)[-5:]
        retried = [e for e in events if e.event_type is EventType.DELIVERY_RETRIED]
        assert retried
        assert {e.endpoint_kind for e in retried} == {"webhook"}
        # each says when it is tried next: a tier's delay (1 s, 2 s) or the breaker's (<= 4 s)
        assert all(
            e.next_attempt_at is not None
            and 0.5 <= (e.next_attempt_at - e.occurred_at).total_seconds() <= 4.5
            for e in retried
        ), [
            (e.next_attempt_at - e.occurred_at).total_seconds()
            for e in retried
            if e.next_attempt_at
        ]
        assert not [e for e in events if e.event_type is EventType.DELIVERY_FAILED]


class _AnsweredLedger:
    """Says the receiver already sent an AppRec for one MsgId."""

    def __init__(self, msg_id: str) -> None:
        self.msg_id = msg_id

    def answered(self, msg_id: str, sender_her_id: int, receiver_her_id: int) -> bool:
        return msg_id == self.msg_id


def test_a_receiver_that_never_recovers_is_given_up_once_with_one_x99(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    outbox = tmp_path / "outbox"
    down, refusing = 9_400_001, 9_400_002
    with (
        hub_topics(kafka_bootstrap, tiers=(0.3, 0.6), max_attempts=4, failure_threshold=100) as hub,
        WebhookReceiver(failing=lambda path: path == "/down", status_for=lambda _p: 400) as hooks,
    ):
        register = RegisterIndex(
            [
                party(down, EndpointKind.WEBHOOK, hooks.url("/down")),
                party(refusing, EndpointKind.WEBHOOK, hooks.url("/refusing")),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        first, answered, refused = routed(down, 0), routed(down, 1), routed(refusing, 0)
        worker = component(
            hub,
            kafka_bootstrap,
            register,
            mailbox,
            outbox,
            ledger=_AnsweredLedger(answered.msg_id or ""),
        )
        with running(worker, until_ready=True):
            produce(kafka_bootstrap, hub.outbound, [first, answered, refused])
            rejected = [
                decode(r.value() or b"", RejectedMessage)
                for r in read_all(kafka_bootstrap, hub.rejected, 3, 60)
            ]
            wait_for(lambda: len(list((outbox / "sender").glob("*.xml"))) >= 2, 30, "AppRecs")
            attempts_at_give_up = len(hooks.attempts("/down"))
            # nothing is retried after the limit: twice the longest tier passes without an attempt
            time.sleep(1.5)
            assert len(hooks.attempts("/down")) == attempts_at_give_up
        assert attempts_at_give_up == 2 * 4  # max_attempts each, the second behind the first
        assert len(hooks.attempts("/refusing")) == 1  # 4xx: not retried
        assert sorted(r.hub_message_id for r in rejected) == sorted(
            m.hub_message_id for m in (first, answered, refused)
        )
        assert {(r.stage, r.code) for r in rejected} == {
            (RejectStage.DELIVERY, AppRecErrorCode.X99)
        }
        assert {r.payload for r in rejected} == {first.payload, answered.payload, refused.payload}
        events = _events(kafka_bootstrap, hub.events, 1)
        failed = [e for e in events if e.event_type is EventType.DELIVERY_FAILED]
        assert sorted(e.hub_message_id for e in failed) == sorted(
            r.hub_message_id for r in rejected
        )
        assert {e.reason_code for e in failed} == {"X99"}
        assert [e.attempt for e in failed if e.hub_message_id == refused.hub_message_id] == [1]
        outbound = [
            decode(r.value() or b"", RoutedMessage)
            for r in read_all(kafka_bootstrap, hub.outbound, 5)
        ]
        apprecs = [m for m in outbound if m.family is Family.APPREC]
        # one X99 each for the two unanswered messages; none where the receiver had answered
        assert len(apprecs) == 2
        assert len(outbound) == 5  # and nothing else was routed twice
        assert {m.receiver_her_id for m in apprecs} == {SENDER}
        documents = sorted(p.read_bytes() for p in (outbox / "sender").glob("*.xml"))
        assert len(documents) == 2
        originals = sorted(
            re.search(rb"<OriginalMsgId>.*?<Id>([^<]+)</Id>", d, re.S).group(1).decode()  # type: ignore[union-attr]
            for d in documents
        )
        assert originals == sorted([first.msg_id or "", refused.msg_id or ""])
        assert all(b'V="X99"' in d and b'V="2"' in d for d in documents)
        statuses = [
            decode(r.value() or b"", DeliveryStatus)
            for r in read_all(kafka_bootstrap, hub.delivery.status_topic, 11)
        ]
        # 4 + 4 attempts, 1 refusal, and the 2 AppRecs delivered to the sender's outbox
        assert len(statuses) == 11
        of_first = [s for s in statuses if s.hub_message_id == first.hub_message_id]
        assert [s.attempt for s in of_first] == [1, 2, 3, 4]
        assert [s.outcome.value for s in of_first] == ["retried"] * 3 + ["failed"]
