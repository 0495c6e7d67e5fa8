"""The delivery parts on their own: breaker, backlog order, retry state, outbox, webhook
classification and signature, X99 policy, settings and metric labels (no broker)."""

import hashlib
import hmac
import json
import os
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from prometheus_client import CollectorRegistry, generate_latest

from access.principals import Principals
from addressregister.index import RegisterIndex
from addressregister.model import Endpoint, EndpointKind
from broker_adapters.delivery.apprec import NoLedger, not_delivered_apprec
from broker_adapters.delivery.backlog import Backlog, Pending
from broker_adapters.delivery.base import Failed, HandedOver, Handover
from broker_adapters.delivery.breaker import Breakers, BreakerState
from broker_adapters.delivery.outbox import FileOutboxEndpoint
from broker_adapters.delivery.settings import BreakerSettings, DeliverySettings
from broker_adapters.delivery.webhook import (
    SIGNATURE_HEADER,
    WebhookEndpoint,
    signature,
    signed_text,
)
from broker_adapters.delivery.webhook_keys import WebhookKeyError, WebhookKeys
from meldingshub.settings import Settings
from metrics.delivery import ENDPOINT_KINDS, AttemptResult, DeliveryMetrics
from routing.events import delivery_event
from routing.outputs import OutputBuilder
from routing.settings import RoutingSettings
from schemas.records import DeliveryOutcome
from schemas.vocabulary import Family
from tests.broker_adapters.delivery.support import (
    HUB,
    SENDER,
    DripServer,
    WebhookReceiver,
    party,
    routed,
    webhook_key,
    write_webhook_keys,
)

APPREC_11 = "{http://www.kith.no/xmlstds/apprec/2012-02-15}"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_breaker_opens_after_the_threshold_probes_later_and_backs_off() -> None:
    clock = Clock()
    breakers = Breakers(BreakerSettings(failure_threshold=3, open_s=10, max_open_s=25), clock)
    down = Endpoint(EndpointKind.WEBHOOK, "https://down.example/hook")
    other = Endpoint(EndpointKind.WEBHOOK, "https://up.example/hook")
    for _ in range(2):
        assert breakers.allow(down)
        breakers.failed(down)
    assert breakers.state(down) is BreakerState.CLOSED
    breakers.failed(down)
    assert breakers.state(down) is BreakerState.OPEN
    assert not breakers.allow(down)
    assert breakers.allow(other)  # per endpoint
    clock.now += 10
    assert breakers.allow(down)  # the one probe
    assert not breakers.allow(down)
    breakers.failed(down)  # failed probe: open twice as long
    clock.now += 19.9
    assert not breakers.allow(down)
    clock.now += 0.2
    assert breakers.allow(down)
    breakers.failed(down)
    clock.now += 25  # capped at max_open_s
    assert breakers.allow(down)
    breakers.succeeded(down)
    assert breakers.state(down) is BreakerState.CLOSED
    assert breakers.counts() == {}


def test_breaker_counts_states_per_kind() -> None:
    clock = Clock()
    breakers = Breakers(BreakerSettings(failure_threshold=1, open_s=5), clock)
    breakers.failed(Endpoint(EndpointKind.AMQP, "1_async"))
    breakers.failed(Endpoint(EndpointKind.AMQP, "2_async"))
    clock.now += 6
    breakers.failed(Endpoint(EndpointKind.AMQP, "3_async"))
    assert breakers.counts() == {
        ("amqp", BreakerState.HALF_OPEN): 2,
        ("amqp", BreakerState.OPEN): 1,
    }


def test_backlog_keeps_a_receivers_messages_in_order_and_writes_its_changelog() -> None:
    backlog = Backlog({"bootstrap.servers": "unused:1"}, "backlog")
    backlog.put(2, 42, Pending(seq=17, tier=1, due_ms=500))
    backlog.put(2, 42, Pending(seq=9, tier=2, due_ms=900))
    backlog.put(2, 43, Pending(seq=10, tier=0, due_ms=100))
    assert [e.seq for e in backlog.pending(2, 42)] == [9, 17]
    assert backlog.before(2, 42, 17) == Pending(9, 2, 900)
    assert backlog.before(2, 42, 9) is None
    assert backlog.before(2, 42, 30) == Pending(17, 1, 500)  # a new message waits for the tail
    assert not backlog.blocked(1, 42)
    assert backlog.by_tier() == {0: 1, 1: 1, 2: 1}
    records = backlog.flush()
    assert [(r.key, r.partition, r.value) for r in records] == [
        (b"42:9", 2, b"[2, 900]"),
        (b"42:17", 2, b"[1, 500]"),
        (b"43:10", 2, b"[0, 100]"),
    ]
    assert backlog.flush() == []
    backlog.remove(2, 43, 10)
    backlog.put(2, 42, Pending(seq=17, tier=2, due_ms=700))
    assert [(r.key, r.value) for r in backlog.flush()] == [
        (b"42:17", b"[2, 700]"),  # only what changed: one record per message
        (b"43:10", None),
    ]
    assert backlog.count(2, 42) == 2 and backlog.count(2, 43) == 0
    backlog.drop([2])
    assert backlog.size() == 0 and backlog.held() == []


def test_backlog_replays_its_changelog_and_replaces_the_older_whole_list_records() -> None:
    backlog = Backlog({"bootstrap.servers": "unused:1"}, "backlog")
    backlog._apply(0, "42", json.dumps([[5, 1, 50], [8, 1, 80]]).encode())  # older layout
    backlog._apply(0, "42:8", None)
    backlog._apply(0, "42:11", b"[0, 110]")
    backlog._apply(0, "43:3", b"[0, 30]")
    backlog._apply(0, "43:3", None)
    assert backlog.pending(0, 42) == [Pending(5, 1, 50), Pending(11, 0, 110)]
    assert not backlog.blocked(0, 43)
    assert [(r.key, r.value) for r in backlog.flush()] == [
        (b"42", None),
        (b"42:5", b"[1, 50]"),
        (b"42:11", b"[0, 110]"),
    ]


def test_backlog_operations_stay_fast_at_a_hundred_thousand_pending() -> None:
    """The issue measured 3.6 s per 200 messages at 100,000 pending; a batch of 200 changes
    must now cost milliseconds and write 200 small records, not the whole list."""
    backlog = Backlog({"bootstrap.servers": "unused:1"}, "backlog")
    for seq in range(100_000):
        backlog.put(0, 42, Pending(seq, 0, seq))
    backlog.flush()
    started = time.perf_counter()
    for seq in range(100_000, 100_200):
        backlog.put(0, 42, Pending(seq, 0, seq))
        assert backlog.before(0, 42, seq) is not None
    for seq in range(200):
        backlog.remove(0, 42, seq)
    records = backlog.flush()
    assert time.perf_counter() - started < 0.5
    assert len(records) == 400 and max(len(r.value or b"") for r in records) < 64


def test_outbox_writes_atomically_once_and_refuses_to_leave_its_root(tmp_path: Path) -> None:
    outbox = FileOutboxEndpoint(tmp_path)
    message = routed(9_100_001, 1)
    handover = Handover(message, "", 1)
    assert outbox.deliver(handover) == HandedOver()
    assert outbox.deliver(handover) == HandedOver()  # a retry finds it written
    written = tmp_path / "9100001" / f"{message.msg_id}.xml"
    assert written.read_bytes() == message.payload
    assert sorted(p.name for p in written.parent.iterdir()) == [written.name]
    clash = replace(routed(9_100_001, 2), msg_id=message.msg_id)
    assert outbox.deliver(Handover(clash, "", 1)) == HandedOver()
    assert (written.parent / f"{message.msg_id}-{clash.hub_message_id}.xml").exists()
    for address in ("../escape", "/etc", "a/../../b"):
        result = outbox.deliver(Handover(message, address, 1))
        assert isinstance(result, Failed) and result.permanent
    assert not (tmp_path.parent / "escape").exists()


def test_an_unsafe_msgid_never_becomes_a_file_name(tmp_path: Path) -> None:
    message = replace(routed(9_100_001, 1), msg_id="../../x")
    assert FileOutboxEndpoint(tmp_path).deliver(Handover(message, "inbox", 1)) == HandedOver()
    assert [p.name for p in (tmp_path / "inbox").iterdir()] == [
        f"message-{message.hub_message_id}.xml"
    ]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (400, "permanent"),
        (404, "permanent"),
        (408, "retried"),
        (429, "retried"),
        (500, "retried"),
        (503, "retried"),
    ],
)
def test_webhook_classifies_answers(status: int, expected: str) -> None:
    with WebhookReceiver(status_for=lambda _path: status) as receiver:
        endpoint = WebhookEndpoint(_keys())
        try:
            result = endpoint.deliver(Handover(routed(9_100_001, 1), receiver.url("/h"), 1))
        finally:
            endpoint.close()
    outcome = (
        "delivered"
        if isinstance(result, HandedOver)
        else "permanent"
        if result.permanent
        else "retried"
    )
    assert outcome == expected
    if isinstance(result, Failed):
        assert result.reason == f"webhook answered HTTP {status}"


def _keys() -> WebhookKeys:
    return WebhookKeys(keys={9_100_001: webhook_key(9_100_001).encode()})


def test_webhook_requests_are_signed_with_the_receivers_key_over_every_header() -> None:
    """Against a real HTTP server on loopback (plain http; https URLs take the same path
    through httpx, with certificate verification)."""
    message = routed(9_100_001, 1)
    with WebhookReceiver() as receiver:
        endpoint = WebhookEndpoint(_keys())
        for attempt in (1, 2):
            assert endpoint.deliver(Handover(message, receiver.url("/h"), attempt)) == HandedOver()
        endpoint.close()
    first, second = receiver.delivered()
    key = f"{message.hub_message_id}:9100001"
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == key
    assert first.headers["X-Meldingshub-Msg-Id"] == message.msg_id
    timestamp = first.headers["X-Meldingshub-Timestamp"]
    text = f"{timestamp}\n{key}\n{SENDER}\n9100001\n{message.msg_id}\n".encode()
    own_key = webhook_key(9_100_001).encode()
    mac = hmac.new(own_key, text + message.payload, hashlib.sha256)
    assert first.headers[SIGNATURE_HEADER] == f"sha256={mac.hexdigest()}"
    # what the receiver recomputes from the headers it got
    got = signed_text(
        timestamp,
        first.headers["Idempotency-Key"],
        first.headers["X-Meldingshub-From-Her-Id"],
        first.headers["X-Meldingshub-To-Her-Id"],
        first.headers["X-Meldingshub-Msg-Id"],
    )
    assert signature(own_key, got, first.body) == first.headers[SIGNATURE_HEADER]
    # any other receiver's key, or another To, does not verify
    forged = signed_text(timestamp, key, str(SENDER), "9100002", message.msg_id or "")
    assert signature(own_key, forged, first.body) != first.headers[SIGNATURE_HEADER]
    other = webhook_key(9_100_002).encode()
    assert signature(other, got, first.body) != first.headers[SIGNATURE_HEADER]


def test_webhook_without_a_key_or_over_plain_http_to_a_remote_host_is_not_sent() -> None:
    with WebhookReceiver() as receiver:
        endpoint = WebhookEndpoint(WebhookKeys())
        try:
            unkeyed = endpoint.deliver(Handover(routed(9_100_001, 1), receiver.url("/h"), 1))
        finally:
            endpoint.close()
    assert isinstance(unkeyed, Failed) and not unkeyed.permanent
    assert "signing key" in unkeyed.reason
    assert receiver.requests == []
    endpoint = WebhookEndpoint(_keys())
    plain = endpoint.deliver(Handover(routed(9_100_001, 1), "http://epj.example.no/hook", 1))
    assert isinstance(plain, Failed) and plain.permanent and "https" in plain.reason
    endpoint.close()


def test_webhook_keys_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = write_webhook_keys(tmp_path / "keys.json", [9_100_001])
    keys = WebhookKeys(path)
    assert keys.key_for(9_100_001) == webhook_key(9_100_001).encode()
    assert keys.key_for(9_100_002) is None
    path.write_text(json.dumps({"9100002": webhook_key(9_100_002)}))
    os.utime(path, ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    assert keys.key_for(9_100_002) == webhook_key(9_100_002).encode()
    path.write_text(json.dumps({"9100002": "short"}))
    os.utime(path, ns=(time.time_ns() + 2 * 10**9, time.time_ns() + 2 * 10**9))
    with pytest.raises(WebhookKeyError, match="16 characters") as raised:
        keys.key_for(9_100_002)
    assert "short" not in str(raised.value)


def test_webhook_that_drips_its_answer_is_cut_off_at_the_deadline() -> None:
    with DripServer(interval_s=0.5) as drip:
        endpoint = WebhookEndpoint(_keys(), timeout_s=1.5)
        started = time.monotonic()
        try:
            result = endpoint.deliver(Handover(routed(9_100_001, 1), drip.url("/h"), 1))
        finally:
            endpoint.close()
        took = time.monotonic() - started
    assert isinstance(result, Failed) and not result.permanent
    assert result.reason == "webhook did not answer within 1.5 s"
    assert took < 3.0


def test_webhook_reads_a_bounded_part_of_the_answer() -> None:
    """An answer that claims 100 MB and then stalls: the status is taken after the bound."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n"
    with DripServer(head=head, body=b"x" * 80_000, stall=True) as server:
        endpoint = WebhookEndpoint(_keys(), timeout_s=3, max_response_bytes=65_536)
        started = time.monotonic()
        try:
            result = endpoint.deliver(Handover(routed(9_100_001, 1), server.url("/h"), 1))
        finally:
            endpoint.close()
    assert result == HandedOver()
    assert time.monotonic() - started < 2.5


def test_webhook_unreachable_is_retried() -> None:
    endpoint = WebhookEndpoint(_keys(), timeout_s=1)
    result = endpoint.deliver(Handover(routed(9_100_001, 1), "http://127.0.0.1:9/none", 1))
    assert isinstance(result, Failed) and not result.permanent
    assert result.reason.startswith("webhook unreachable")
    bad = endpoint.deliver(Handover(routed(9_100_001, 1), "ftp://example", 1))
    assert isinstance(bad, Failed) and bad.permanent
    endpoint.close()


def _builder() -> OutputBuilder:
    return OutputBuilder(RoutingSettings(hub_her_id=HUB), Principals.open())


def _register() -> RegisterIndex:
    return RegisterIndex(
        [party(SENDER, EndpointKind.FILE, "s"), party(9_100_001, EndpointKind.FILE, "r")]
    )


def test_x99_apprec_answers_the_original_from_the_hub() -> None:
    message = routed(9_100_001, 1)
    now = datetime.now(UTC)
    apprec = not_delivered_apprec(
        _builder(), _register(), NoLedger(), message, "webhook answered HTTP 503", now, HUB
    )
    assert apprec is not None
    assert apprec.family is Family.APPREC
    assert apprec.receiver_her_id == SENDER and apprec.sender_her_id == HUB
    document = etree.fromstring(apprec.payload)
    assert document.findall(f"{APPREC_11}Status")[0].get("V") == "2"
    assert document.findall(f"{APPREC_11}Error")[0].get("V") == "X99"
    assert document.findtext(f"{APPREC_11}OriginalMsgId/{APPREC_11}Id") == message.msg_id
    again = not_delivered_apprec(_builder(), _register(), NoLedger(), message, "other", now, HUB)
    assert again is not None and again.hub_message_id == apprec.hub_message_id  # one id


class _Answered:
    def answered(self, msg_id: str, sender_her_id: int, receiver_her_id: int) -> bool:
        return True


@pytest.mark.parametrize(
    "change",
    [
        {"family": Family.APPREC},  # no AppRec for an AppRec
        {"sender_her_id": HUB},  # nor for the hub's own messages
        {"msg_id": None},
        {"apprec_version": "9.9"},  # an AppRec version the hub cannot write
    ],
)
def test_no_x99_where_the_standard_has_none(change: dict[str, object]) -> None:
    message = replace(routed(9_100_001, 1), **change)  # type: ignore[arg-type]
    now = datetime.now(UTC)
    assert not_delivered_apprec(_builder(), _register(), NoLedger(), message, "x", now, HUB) is None


def test_no_x99_when_the_receiver_already_answered() -> None:
    message = routed(9_100_001, 1)
    now = datetime.now(UTC)
    assert (
        not_delivered_apprec(_builder(), _register(), _Answered(), message, "x", now, HUB) is None
    )


def test_delivery_events_have_stable_ids_and_no_payload() -> None:
    message = routed(9_100_001, 1)
    now = datetime.now(UTC)
    delivered = delivery_event(
        message, DeliveryOutcome.DELIVERED, now, endpoint_kind="file", attempt=1
    )
    assert delivered == delivery_event(
        message, DeliveryOutcome.DELIVERED, now, endpoint_kind="file", attempt=1
    )
    failed = delivery_event(message, DeliveryOutcome.FAILED, now, endpoint_kind="file", attempt=3)
    assert failed.reason_code == "X99" and failed.event_id != delivered.event_id
    assert message.payload not in repr(failed).encode()


def test_metric_labels_are_the_register_endpoint_kinds() -> None:
    assert set(ENDPOINT_KINDS) == {k.value for k in EndpointKind} | {"none"}
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry, ["10s", "1m"])
    metrics.attempt("webhook", AttemptResult.SKIPPED)
    metrics.outcome("a-her-id-never", DeliveryOutcome.DELIVERED)  # unknown kind -> "none"
    metrics.delivered_after("file", 0.02)
    metrics.depth({"10s": 4}, 4)
    sample = registry.get_sample_value
    assert (
        sample(
            "meldingshub_delivery_attempts_total", {"endpoint_kind": "webhook", "result": "skipped"}
        )
        == 1
    )
    assert (
        sample("meldingshub_deliveries_total", {"endpoint_kind": "none", "outcome": "delivered"})
        == 1
    )
    assert sample("meldingshub_delivery_latency_seconds_count", {"endpoint_kind": "file"}) == 1
    assert sample("meldingshub_delivery_retry_depth", {"tier": "10s"}) == 4
    assert sample("meldingshub_delivery_retry_depth", {"tier": "1m"}) == 0
    assert sample("meldingshub_delivery_breakers", {"endpoint_kind": "amqp", "state": "open"}) == 0


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = DeliverySettings()
    assert [t.delay_s for t in defaults.retry_tiers] == [10, 60, 600, 3600]
    assert defaults.retry_topic(0) == "hub.delivery.retry.10s"
    assert (defaults.max_attempts, defaults.max_age_s) == (10, 86_400)
    assert (defaults.call_timeout_s, defaults.webhook_keys_file) == (10.0, None)
    monkeypatch.setenv("MELDINGSHUB_AMQP__URL", "amqp://hub:hemmelig@mq/%2F")
    monkeypatch.setenv("MELDINGSHUB_DELIVERY__MAX_ATTEMPTS", "3")
    settings = Settings(data_dir=Path("/data"))
    assert settings.delivery.max_attempts == 3
    assert settings.amqp.url.get_secret_value() == "amqp://hub:hemmelig@mq/%2F"
    assert "hemmelig" not in repr(settings)
    assert settings.delivery.outbox(settings.data_dir) == Path("/data/outbox")
    with pytest.raises(ValueError, match="distinct"):
        DeliverySettings.model_validate(
            {"retry_tiers": [{"name": "a", "delay_s": 1}, {"name": "a", "delay_s": 2}]}
        )


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) absent")
def test_promtool_accepts_the_delivery_metrics() -> None:
    registry = CollectorRegistry()
    DeliveryMetrics(registry, ["10s", "1m", "10m", "1h"])
    checked = subprocess.run(
        ["promtool", "check", "metrics"],
        input=generate_latest(registry),
        capture_output=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
