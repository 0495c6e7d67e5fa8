"""The hub's routing pipeline does with every simulated document what the truth expects."""

from collections import Counter

import pytest

from access.principals import Principals
from addressregister.index import RegisterIndex
from meldingshub.simulator.faults import EXPECTED_CODE, FaultKind
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Traffic
from meldingshub.simulator.truth import Truth
from schemas.reader import MessageReader
from tests.meldingshub.simulator.conftest import START, route


def test_events_codes_and_hub_apprecs_are_what_the_truth_expects(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> None:
    traffic = Traffic(register, NATIONAL_2019, seed=9, fault_rate=0.1, principals=principals)
    results = route(traffic.messages(2500, START), register, principals, reader)
    kinds: Counter[str] = Counter()
    for result in results:
        expected = result.outgoing.expectation
        kinds[expected.kind] += 1
        assert result.counts == expected.counts, expected.kind
        assert result.code == expected.reason_code, expected.kind
        assert result.hub_apprec_to == expected.hub_apprec_to, expected.kind
    assert set(kinds) == {"message", "apprec", *(kind.value for kind in FaultKind)}
    for kind, code in EXPECTED_CODE.items():
        rejected = [r for r in results if r.outgoing.expectation.kind == kind.value]
        assert rejected and all(r.code == code.value for r in rejected)
    duplicates = [r for r in results if r.outgoing.expectation.kind == "resend"]
    assert all(r.counts[-1][1] == "duplicates" for r in duplicates)


def test_an_open_hub_gets_no_spoofed_senders(
    register: RegisterIndex, principals: Principals, reader: MessageReader
) -> None:
    traffic = Traffic(register, NATIONAL_2019, seed=9, fault_rate=0.2)
    documents = list(traffic.messages(500, START))
    kinds = Counter(o.expectation.kind for o in documents)
    assert kinds["spoofed_sender"] == 0 and kinds["unknown_receiver"] > 0
    for result in route(documents, register, Principals.open(), reader):
        assert result.counts == result.outgoing.expectation.counts


@pytest.mark.parametrize("via", ["http", "amqp", "file"])
def test_screening_transports_refuse_unreadable_and_spoofed_documents(
    register: RegisterIndex, principals: Principals, via: str
) -> None:
    traffic = Traffic(register, NATIONAL_2019, seed=4, fault_rate=0.3, principals=principals)
    documents = list(traffic.messages(400, START))
    truth = Truth("Europe/Oslo", via)
    truth.record_all(documents)
    kinds = Counter(o.expectation.kind for o in documents)
    assert truth.ingress_refusals == {
        "not_xml": kinds["malformed"],
        "sender_not_allowed": kinds["spoofed_sender"],
    }
    assert "T01" not in truth.rejections and "X99" not in truth.rejections
    kafka = Truth("Europe/Oslo", "kafka")
    kafka.record_all(documents)
    assert kafka.rejections["T01"] == kinds["malformed"] and not kafka.ingress_refusals
