"""A delivery worker publishes its open circuit breakers for the console, and clears them."""

from pathlib import Path

import pytest

from addressregister.index import RegisterIndex
from addressregister.model import EndpointKind
from broker_adapters.delivery.mailbox_store import MailboxStore
from hubstats.breakers import breaker_states, endpoint_digest
from tests.broker_adapters.delivery.support import (
    SENDER,
    WebhookReceiver,
    component,
    hub_topics,
    party,
    produce,
    routed,
)
from tests.support.waiting import running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOWN = 9_700_001


def test_an_open_breaker_is_published_and_cleared_when_the_receiver_is_back(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    mailbox = MailboxStore.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    down = [True]
    with (
        hub_topics(kafka_bootstrap, failure_threshold=2, open_s=1.0, tiers=(0.5, 1.0)) as hub,
        WebhookReceiver(failing=lambda _path: down[0]) as hooks,
    ):
        address = hooks.url("/down")
        register = RegisterIndex(
            [
                party(DOWN, EndpointKind.WEBHOOK, address),
                party(SENDER, EndpointKind.FILE, "sender"),
            ]
        )
        produce(kafka_bootstrap, hub.outbound, [routed(DOWN, n) for n in range(3)])
        worker = component(hub, kafka_bootstrap, register, mailbox, tmp_path / "outbox")
        with running(worker, until_ready=True):
            key = endpoint_digest("webhook", address)
            opened = wait_for(
                lambda: breaker_states(mailbox.engine).get(key),
                30,
                "the open breaker published",
            )
            assert opened is not None
            assert opened.state in ("open", "half_open") and opened.failures >= 2
            down[0] = False
            wait_for(
                lambda: key not in breaker_states(mailbox.engine),
                30,
                "the breaker cleared once the receiver answers",
            )
            wait_for(lambda: len(hooks.delivered("/down")) == 3, 30, "every message delivered")
