"""The ingress gate's cheap checks, the metrics' closed label sets and the adapters' settings."""

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from addressregister.live import StaticRegister
from broker_adapters.ingress import (
    IngressGate,
    IngressSettings,
    RefusalReason,
    Submission,
    ingress_adapters,
)
from broker_adapters.ingress.amqp import ERROR_CONDITIONS, error_queue_for
from broker_adapters.ingress.gate import ErrorCallback
from broker_adapters.settings import AmqpSettings
from kafka_io import DurableProducer
from kafka_io.settings import KafkaSettings
from metrics.ingress import REFUSAL_REASONS, IngressMetrics
from schemas.vocabulary import INGRESS_ADAPTERS
from schemas.xmlparse import ParseLimits
from tests.support.corpus_register import Sample

LIMIT = 32 * 1024


class _NoProducer:
    """The checks never write; a gate for them needs no broker."""

    def close(self, timeout_s: float = 0) -> None:
        return None


def _no_producer(_on_error: ErrorCallback) -> DurableProducer:
    return cast(DurableProducer, _NoProducer())


@pytest.fixture
def gate(register_view: StaticRegister) -> IngressGate:
    return IngressGate(
        _no_producer,
        "hub.inbound",
        IngressSettings(),
        register_view,
        limits=ParseLimits(max_bytes=LIMIT),
    )


@pytest.fixture
def sample(samples: list[Sample]) -> Sample:
    return next(s for s in samples if s.envelope.sender.organisation_her_id is not None)


def submission(raw: bytes, principal: Principal, claimed: int | None = None) -> Submission:
    return Submission(
        raw=raw,
        principal=principal,
        adapter="http",
        received_at=datetime.now(UTC),
        claimed_sender_her_id=claimed,
    )


def test_a_message_from_one_of_the_principals_senders_passes(
    gate: IngressGate, sample: Sample
) -> None:
    sender = sample.envelope.sender
    principal = Principal("epj", frozenset({sender.organisation_her_id or 0}))
    assert gate.screen(submission(sample.raw, principal)) is None
    claimed = submission(sample.raw, principal, sender.organisation_her_id)
    assert gate.screen(claimed) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", RefusalReason.NOT_XML),
        (b"\x00\x01binary", RefusalReason.NOT_XML),
        (b"<a><b></a>", RefusalReason.NOT_XML),
        (b'<!DOCTYPE a SYSTEM "http://example.invalid/a.dtd"><a/>', RefusalReason.NOT_XML),
        (b"<a>" + b"x" * LIMIT + b"</a>", RefusalReason.TOO_LARGE),
    ],
    ids=["empty", "binary", "not-well-formed", "doctype", "too-large"],
)
def test_what_is_not_a_message_is_refused(
    gate: IngressGate, raw: bytes, reason: RefusalReason
) -> None:
    refused = gate.screen(submission(raw, Principal("epj", frozenset({1}))))
    assert refused is not None and refused.reason is reason
    assert not refused.transient


def test_a_sender_the_principal_may_not_send_for_is_refused(
    gate: IngressGate, sample: Sample
) -> None:
    other = Principal("other", frozenset({999_999_001}))
    refused = gate.screen(submission(sample.raw, other))
    assert refused is not None and refused.reason is RefusalReason.SENDER_NOT_ALLOWED
    assert "other" in refused.detail
    # The transport names a different sender than the document: spoofing too.
    sender = sample.envelope.sender.organisation_her_id or 0
    allowed = Principal("epj", frozenset({sender, 999_999_001}))
    spoofed = gate.screen(submission(sample.raw, allowed, claimed=999_999_001))
    assert spoofed is not None and spoofed.reason is RefusalReason.SENDER_NOT_ALLOWED


def test_every_permanent_refusal_has_an_amqp_error_condition() -> None:
    permanent = set(RefusalReason) - {RefusalReason.BROKER_UNAVAILABLE, RefusalReason.BUSY}
    assert set(ERROR_CONDITIONS) == permanent
    assert set(ERROR_CONDITIONS.values()) == {
        "transport:not-well-formed-xml",
        "abuse:spoofing-attack",
        "transport:unsupported-message",
        "transport:invalid-field-value",
    }


def test_every_series_exists_from_the_start_and_promtool_accepts_them() -> None:
    registry = CollectorRegistry()
    metrics = IngressMetrics(registry)
    for adapter in INGRESS_ADAPTERS:
        assert (
            registry.get_sample_value("meldingshub_ingress_received_total", {"adapter": adapter})
            == 0
        )
        for reason in REFUSAL_REASONS:
            labels = {"adapter": adapter, "reason": reason}
            assert registry.get_sample_value("meldingshub_ingress_refused_total", labels) == 0
    metrics.observe_accepted("file", 1234, 0.004)
    assert (
        registry.get_sample_value("meldingshub_ingress_accepted_bytes_total", {"adapter": "file"})
        == 1234
    )
    assert (
        registry.get_sample_value("meldingshub_ingress_write_seconds_count", {"adapter": "file"})
        == 1
    )
    with pytest.raises(Exception, match="adapter"):
        metrics.observe_received("smtp")
    with pytest.raises(Exception, match="reason"):
        metrics.observe_refused("http", "felt like it")
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=generate_latest(registry), capture_output=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_error_queues_follow_the_profile() -> None:
    nhn = Principal("epj", frozenset({1}), amqp_inbound_queue="8094866_async")
    assert error_queue_for(nhn) == "8094866_error"
    named = Principal("epj", frozenset({1}), amqp_inbound_queue="in", amqp_error_queue="bad")
    assert error_queue_for(named) == "bad"
    assert error_queue_for(Principal("epj", frozenset({1}))) is None


def test_run_builds_the_adapters_the_settings_enable(
    tmp_path: Path, register_view: StaticRegister
) -> None:
    settings = IngressSettings(
        adapters=frozenset({"http", "amqp", "file", "kafka"}),
        file_root=Path("inbox"),
    )
    gate = IngressGate(_no_producer, "hub.inbound", settings, register_view)
    built = ingress_adapters(
        gate,
        PrincipalsFile.fixed(Principals.open()),
        KafkaSettings(),
        "127.0.0.1:9",
        AmqpSettings(),
        tmp_path,
    )
    assert sorted(a.name for a in built) == ["ingress-amqp", "ingress-file", "ingress-kafka"]
    assert not any(a.ready() for a in built)  # nothing runs until the hub starts them
    open_principals = PrincipalsFile.fixed(Principals.open())
    with_reporter = ingress_adapters(
        gate, open_principals, KafkaSettings(), "127.0.0.1:9", AmqpSettings(), tmp_path, 8888801
    )
    assert "ingress-amqp-rejections" in {a.name for a in with_reporter}  # beside AMQP ingress
    http_only = IngressSettings(adapters=frozenset({"http"}))
    only_http = IngressGate(_no_producer, "hub.inbound", http_only, register_view)
    open_principals = PrincipalsFile.fixed(Principals.open())
    assert (
        ingress_adapters(only_http, open_principals, KafkaSettings(), "x:1", AmqpSettings()) == []
    )
