"""Replay by stage: a given-up delivery goes back to its one receiver, under its original hub
message id, and the message's other receivers are not sent it again."""

import threading
from dataclasses import replace
from pathlib import Path

import pytest

from addressregister.index import RegisterIndex
from addressregister.model import EndpointKind
from broker_adapters.delivery.mailbox_store import MailboxStore
from meldingshub.dlq import read_dead_letters, replay
from schemas.records import RejectStage, RoutedMessage, decode
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

DOWN, HEALTHY = 9_700_001, 9_700_002


def test_replay_of_a_given_up_delivery_goes_to_that_receiver_only(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    outbox = tmp_path / "outbox"
    refusing = threading.Event()
    refusing.set()
    with (
        hub_topics(kafka_bootstrap, max_attempts=1) as hub,
        WebhookReceiver(failing=lambda _path: refusing.is_set()) as hooks,
    ):
        register = RegisterIndex(
            [
                party(DOWN, EndpointKind.WEBHOOK, hooks.url("/down")),
                party(HEALTHY, EndpointKind.FILE, "healthy"),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        to_down = routed(DOWN, 1)
        to_healthy = replace(routed(HEALTHY, 1), hub_message_id=to_down.hub_message_id)
        with running(component(hub, kafka_bootstrap, register, mailbox, outbox), until_ready=True):
            produce(kafka_bootstrap, hub.outbound, [to_down, to_healthy])
            read_all(kafka_bootstrap, hub.rejected, 1, 60)
            (letter,) = list(read_dead_letters(hub.kafka, kafka_bootstrap))
            assert letter.message.stage is RejectStage.DELIVERY
            assert letter.message.receiver_her_id == DOWN
            assert letter.message.hub_message_id == to_down.hub_message_id

            refusing.clear()  # the receiver is fixed
            assert replay(hub.kafka, kafka_bootstrap, [letter]) == [to_down.hub_message_id]
            wait_for(lambda: len(hooks.delivered("/down")) == 1, 30, "the replayed delivery")
            records = read_all(kafka_bootstrap, hub.outbound, 4, 20)
        (delivered,) = hooks.delivered("/down")
        assert delivered.headers["Idempotency-Key"] == f"{to_down.hub_message_id}:{DOWN}"
        assert delivered.body == to_down.payload
        receivers = [decode(r.value() or b"", RoutedMessage).receiver_her_id for r in records]
        # the two originals, the X99 AppRec to the sender, and the replay to DOWN only
        assert sorted(receivers) == sorted([DOWN, HEALTHY, SENDER, DOWN])
        assert len(list((outbox / "healthy").glob("*.xml"))) == 1
