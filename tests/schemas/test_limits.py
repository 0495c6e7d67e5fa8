"""Bounded cost per message: node budgets, whole-prolog checks, copy and fan-out caps."""

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from typing import cast

import pytest

from access.principals import Principal
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from broker_adapters.ingress import IngressGate, IngressSettings, RefusalReason, Submission
from broker_adapters.ingress.gate import ErrorCallback
from kafka_io import DurableProducer
from schemas.errors import MessageRejectedError
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode
from schemas.xmlparse import ParseLimits, parse_message
from tests.schemas.test_reader import DIALOG, sample
from tests.support.shared import REPO


def _reject(raw: bytes, limits: ParseLimits | None = None) -> MessageRejectedError:
    with pytest.raises(MessageRejectedError) as caught:
        parse_message(raw, limits or ParseLimits())
    return caught.value


def test_elements_and_attributes_are_budgeted_by_size() -> None:
    limits = ParseLimits(node_floor=100, bytes_per_node=32)
    size_of_50 = len(b"<r>" + b"<a/>" * 50 + b"</r>")
    assert limits.max_nodes(size_of_50) == 100 + size_of_50 // 32
    parse_message(b"<r>" + b"<a/>" * 50 + b"</r>", limits)
    rejected = _reject(b"<r>" + b"<a/>" * 200 + b"</r>", limits)
    assert rejected.code is AppRecErrorCode.T99
    assert "elements and attributes" in rejected.reason
    assert _reject(b'<r><a x="" y="" z=""/>' * 1 + b"<a/>" * 150 + b"</r>", limits).code is (
        AppRecErrorCode.T99
    )
    # The same count with enough text per node is within the budget.
    padded = b"<r>" + b"<a>" + b"x" * 40 + b"</a>" * 1 + (b"<a>" + b"x" * 40 + b"</a>") * 199
    parse_message(padded + b"</r>", limits)


def test_every_corpus_document_is_within_the_default_budget(
    builtin_reader: MessageReader,
) -> None:
    from tests.support.shared import CORPUS

    for path in sorted(CORPUS.rglob("*.xml")):
        raw = path.read_bytes()
        try:
            parse_message(raw, ParseLimits())
        except MessageRejectedError as exc:
            assert "elements and attributes" not in exc.reason, path.name


EMPTY_ELEMENTS = """
import json, resource
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
reader = MessageReader(SchemaSettings())
raw = b'<?xml version="1.0"?><MsgHead>' + b'<a/>' * (7 * 1024 * 1024) + b'</MsgHead>'
reader.read(b'<warm-up/>')
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = reader.read(raw)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"code": result.problem.code.value if result.problem else None,
                  "rss_delta_mb": (after - before) / 1024}))
"""


def test_a_28_mb_document_of_empty_elements_is_refused_without_building_it() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(EMPTY_ELEMENTS)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["code"] == "T99", outcome
    assert outcome["rss_delta_mb"] < 250, outcome  # the whole tree would take about 850 MB


def test_the_whole_declaration_is_read_however_long() -> None:
    raw = b'<?xml version="1.0"' + b" " * 300 + b'encoding="UTF-16"?><a/>'
    rejected = _reject(raw)
    assert rejected.code is AppRecErrorCode.T01
    assert "UTF-16" in rejected.reason or "utf-16" in rejected.reason


def test_a_doctype_after_a_long_prolog_is_refused_before_parsing() -> None:
    raw = (
        b'<?xml version="1.0"?>'
        + b"<!-- padding -->" * 8192
        + b'<!DOCTYPE a [<!ENTITY x "y">]><a/>'
    )
    rejected = _reject(raw)
    assert rejected.code is AppRecErrorCode.T99
    assert rejected.reason.startswith("DOCTYPE is not allowed: messages may not declare")


@pytest.mark.parametrize(
    "raw",
    [
        '<?xml version="1.0"?><a>x</a>'.encode("utf-16-le"),
        '<?xml version="1.0"?><a>x</a>'.encode("utf-16"),
        '<?xml version="1.0" encoding="UTF-8"?><a>x</a>'.encode("utf-32"),
        b"<a>x\x00</a>",
    ],
    ids=["utf16-no-bom", "utf16-bom", "utf32", "nul"],
)
def test_byte_orders_that_are_not_ascii_compatible_are_refused(raw: bytes) -> None:
    rejected = _reject(raw)
    assert rejected.code is AppRecErrorCode.T01
    assert "ASCII-compatible" in rejected.reason


def _with_copies(count: int, filler: int = 0) -> bytes:
    raw = sample(DIALOG)
    receiver = raw[raw.index(b"<Receiver>") : raw.index(b"</Receiver>") + len(b"</Receiver>")]
    other = receiver.replace(b"<Receiver>", b"<OtherReceiver>").replace(
        b"</Receiver>", b"</OtherReceiver>"
    )
    raw = raw.replace(receiver, receiver + other * count, 1)
    return raw.replace(b"</MsgHead>", b"<!--" + b"x" * filler + b"--></MsgHead>")


def _copies(reader: MessageReader, raw: bytes) -> int:
    envelope = reader.read(raw).envelope
    assert envelope is not None
    return len(envelope.copy_receivers)


def test_copy_receivers_over_the_cap_are_t99() -> None:
    reader = MessageReader(SchemaSettings(max_copy_receivers=3))
    added = 3 - _copies(reader, _with_copies(0))
    within = reader.read(_with_copies(added)).problem
    assert within is None or "copy receivers" not in within.reason  # (copies lack RoleReceiver)
    result = reader.read(_with_copies(added + 1))
    assert result.problem is not None
    assert result.problem.code is AppRecErrorCode.T99
    assert result.problem.reason == "the message names 4 copy receivers; the hub takes at most 3"
    assert SchemaSettings().max_copy_receivers == 50


def test_total_fan_out_bytes_are_capped() -> None:
    reader = MessageReader(SchemaSettings(max_fanout_bytes=200_000))
    receivers = 1 + _copies(reader, _with_copies(1))
    within = reader.read(_with_copies(1)).problem
    assert within is None or "routed" not in within.reason
    big = _with_copies(1, filler=70_000)
    result = reader.read(big)
    assert result.problem is not None
    assert result.problem.code is AppRecErrorCode.T99
    assert f"{len(big)} bytes to {receivers} receivers" in result.problem.reason


class _NoProducer:
    def close(self, timeout_s: float = 0) -> None:
        return None


def _no_producer(_on_error: ErrorCallback) -> DurableProducer:
    return cast(DurableProducer, _NoProducer())


def test_the_gate_holds_messages_to_the_readers_depth_and_attribute_limits() -> None:
    limits = SchemaSettings(max_depth=16, max_attributes=4).parse_limits()
    register = StaticRegister(RegisterIndex.empty())
    gate = IngressGate(_no_producer, "hub.inbound", IngressSettings(), register, limits=limits)
    principal = Principal("epj", frozenset({1}))

    def screen(raw: bytes) -> RefusalReason | None:
        refused = gate.screen(Submission(raw, principal, "http", datetime.now(UTC)))
        return refused.reason if refused is not None else None

    assert screen(b"<a>" * 20 + b"</a>" * 20) is RefusalReason.NOT_XML
    assert screen(b'<a p="1" q="2" r="3" s="4" t="5"/>') is RefusalReason.NOT_XML
    assert screen(b"<a>" * 10 + b"</a>" * 10) is None
