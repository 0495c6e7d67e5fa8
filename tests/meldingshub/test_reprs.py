"""Reprs of records that hold a document leave the document out (tracebacks and debuggers
print reprs)."""

from dataclasses import fields

import pytest

from broker_adapters.delivery.mailbox_store import MailboxMessage
from broker_adapters.ingress.amqp import _Delivery
from broker_adapters.ingress.base import Submission
from kafka_io.records import OutRecord
from meldingshub.simulator.compose import _Sent
from meldingshub.simulator.traffic import Outgoing
from schemas.envelope import EnvelopeReading
from schemas.records import RejectedMessage, RoutedMessage

DOCUMENT_FIELDS = {"payload", "raw", "body", "value"}


@pytest.mark.parametrize(
    "record",
    [
        MailboxMessage,
        _Delivery,
        Submission,
        OutRecord,
        Outgoing,
        _Sent,
        EnvelopeReading,
        RejectedMessage,
        RoutedMessage,
    ],
)
def test_document_fields_are_not_in_the_repr(record: type) -> None:
    held = [f.name for f in fields(record) if f.name in DOCUMENT_FIELDS]
    assert held, f"{record.__name__} holds no document field any more"
    assert [f.name for f in fields(record) if f.name in held and f.repr] == []


def test_an_out_record_prints_its_topic_but_not_its_value() -> None:
    text = repr(OutRecord(topic="hub.outbound", value=b"<Patient>O'Brien</Patient>"))
    assert "hub.outbound" in text
    assert "Brien" not in text
