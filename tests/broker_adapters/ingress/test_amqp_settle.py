"""AMQP settling survives a connection that closed under it (no broker needed)."""

import functools
import uuid
from typing import Any

import pika
import pika.exceptions

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from broker_adapters.ingress.amqp import AmqpIngress, _Delivery
from broker_adapters.ingress.base import Accepted, Outcome, Submission
from broker_adapters.ingress.settings import IngressSettings

PRINCIPAL = Principal("epj", frozenset({1}), amqp_inbound_queue="in")


class ClosedChannel:
    """A channel whose connection has just gone: every call raises."""

    is_open = True

    def basic_ack(self, *_args: Any, **_kwargs: Any) -> None:
        raise pika.exceptions.ChannelWrongStateError("Channel is closed.")

    basic_nack = basic_ack
    basic_publish = basic_ack


class ClosedConnection:
    def add_callback_threadsafe(self, _callback: Any) -> None:
        raise pika.exceptions.ConnectionWrongStateError("connection is closed")


class InstantGate:
    """Accepts every submission at once, on the caller's thread."""

    settings = IngressSettings()

    def submit_async(self, submission: Submission, done: Any) -> None:
        done(Accepted(uuid.uuid4(), 0, 0))

    def count_received(self, adapter: str) -> None: ...

    def count_refused(self, adapter: str, refused: Any) -> None: ...


def adapter() -> AmqpIngress:
    return AmqpIngress(InstantGate(), PrincipalsFile.fixed(Principals([PRINCIPAL])), "amqp://x")  # type: ignore[arg-type]


def test_an_ack_on_a_closed_channel_does_not_raise() -> None:
    amqp = adapter()
    delivery = _Delivery(PRINCIPAL, 1, pika.BasicProperties(), b"<x/>", amqp._generation)
    outcome: Outcome = Accepted(uuid.uuid4(), 0, 0)
    amqp._settled.append((delivery, outcome))
    amqp._in_flight = 1
    amqp._drain(ClosedChannel(), ClosedChannel())
    assert amqp._in_flight == 0 and not amqp._settled


def test_an_outcome_for_a_closed_connection_does_not_raise() -> None:
    amqp = adapter()
    method = type("Method", (), {"delivery_tag": 7})()
    on_message = functools.partial(amqp._on_message, ClosedConnection(), PRINCIPAL, 0)
    on_message(None, method, pika.BasicProperties(headers={"fromHerId": "1"}), b"<x/>")
    assert amqp._in_flight == 1  # RabbitMQ redelivers it on the next connection
