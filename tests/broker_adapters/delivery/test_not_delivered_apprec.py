"""Delivery's X99 "not delivered" AppRec: the original's GenDate as IssueDate, and an answer
for a message of a type the hub does not know (routed under ``envelope_only``) in AppRec 1.0."""

from datetime import UTC, datetime

import pytest
from lxml import etree

from broker_adapters.delivery.apprec import NoLedger, not_delivered_apprec, original_gen_date
from routing.apprec import APPREC_NAMESPACES
from routing.decision import Routed
from routing.outputs import UNKNOWN_TYPE_APPREC_VERSION
from routing.pipeline import decide
from schemas.reader import MessageReader
from schemas.records import RoutedMessage
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, Family
from tests.routing.test_hub_apprec import (
    HUB,
    OPEN,
    OWN_REGISTER,
    RECEIVER,
    SENDER,
    builder,
    inbound,
    synthetic,
)
from tests.support.shared import OFFICIAL_XSD

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
UNKNOWN_NAMESPACE = b"http://example.org/ukjent/2020-01-01"


def routed_unknown_type(gen_date: bytes) -> RoutedMessage:
    """A MsgHead whose payload namespace the hub does not know, routed as ``envelope_only``."""
    raw = (
        synthetic("DIALOG_NOTAT", Family.DIALOG, "1.1")
        .replace(b"http://www.kith.no/xmlstds/dialog/2013-01-23", UNKNOWN_NAMESPACE)
        .replace(b"<GenDate>2019-03-01T09:35:00</GenDate>", b"<GenDate>" + gen_date + b"</GenDate>")
    )
    read = MessageReader(SchemaSettings(unknown_type_policy="envelope_only")).read(raw)
    assert read.envelope is not None and read.envelope.apprec_version is None
    meta = inbound(raw)
    decision = decide(read, meta, OWN_REGISTER, OPEN, lambda _key: None, NOW)
    assert isinstance(decision, Routed), decision
    (message,) = builder().build(decision, meta, raw, OWN_REGISTER, NOW).routed
    assert message.receiver_her_id == RECEIVER and message.apprec_version is None
    return message


@pytest.fixture(scope="module")
def official() -> MessageReader:
    if not OFFICIAL_XSD.is_dir():
        pytest.skip(f"official schemas not found at {OFFICIAL_XSD}")
    return MessageReader(SchemaSettings(official_dir=OFFICIAL_XSD))


@pytest.mark.parametrize(
    ("gen_date", "issue_date"),
    [
        (b"2019-03-01T09:35:00", "2019-03-01T09:35:00"),
        (b"2017-06-12T09:35:00+02:00", "2017-06-12T09:35:00+02:00"),
    ],
)
def test_an_unknown_type_not_delivered_gets_an_x99_apprec_1_0_dated_by_its_gen_date(
    official: MessageReader, gen_date: bytes, issue_date: str
) -> None:
    message = routed_unknown_type(gen_date)
    apprec = not_delivered_apprec(
        builder(), OWN_REGISTER, NoLedger(), message, "receiver unreachable", NOW, HUB
    )
    assert apprec is not None and apprec.receiver_her_id == SENDER
    answer = official.read(apprec.payload)
    assert answer.accepted, answer.problem
    assert answer.envelope is not None
    assert answer.envelope.root_namespace == APPREC_NAMESPACES[UNKNOWN_TYPE_APPREC_VERSION]
    assert answer.envelope.apprec_error_codes == (AppRecErrorCode.X99.value,)
    assert answer.envelope.original_msg_id == message.msg_id
    root = etree.fromstring(apprec.payload)
    namespaces = {"a": APPREC_NAMESPACES[UNKNOWN_TYPE_APPREC_VERSION]}
    assert root.findtext("a:OriginalMsgId/a:IssueDate", namespaces=namespaces) == issue_date


def test_gen_date_of_an_unreadable_original_is_none() -> None:
    assert original_gen_date(b"") is None
    assert original_gen_date(b"<not-xml") is None
    assert original_gen_date(b'<?xml version="1.0"?><Test n="1"/>') is None
