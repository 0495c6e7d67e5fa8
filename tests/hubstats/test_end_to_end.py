"""Routed for real, counted exactly: /metrics, the store and the export agree with known counts.

Real corpus messages (every family), rejections, re-sends and a receiver's AppRec go
through the broker, the router and the aggregator; the known counts come from the
pure pipeline over the same inputs. A planted fødselsnummer and name ride along in
one message and must appear in nothing the hub produces for operators.
"""

import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypedDict

import pytest
import structlog
from prometheus_client import CollectorRegistry, generate_latest

from access.principals import Principals
from addressregister.index import RegisterIndex
from hubstats.aggregator import StatisticsAggregator
from hubstats.export import StatisticsQuery, query_counts, render
from hubstats.report import build_report, report_csv
from hubstats.store import StatisticsStore
from meldingshub.components.router import RouterComponent
from meldingshub.logging import configure_logging
from meldingshub.settings import Settings
from metrics.live import HubMetrics, message_types_of
from routing.outputs import OutputBuilder
from routing.pipeline import decide
from schemas.catalogue import default_catalogue
from schemas.reader import MessageReader
from schemas.records import InboundMessage
from schemas.settings import SchemaSettings
from schemas.vocabulary import EventType, Family
from tests.support.corpus_register import accepted_samples, apprec_answer, consistent, register_for
from tests.support.hub import isolated_settings, router_settings, send_inbound
from tests.support.kafka import read_all
from tests.support.waiting import running

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FNR = "13097248022"
NAME = "Ingeborg Testesen-Planted"
PLANTED_SOURCE = "Henvisning_ny_tilstand_v2-0_Ny.xml"


def test_metrics_store_and_export_agree_exactly_and_hold_no_patient_data(
    kafka_bootstrap: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("e2e", "json", "info")
    reader = MessageReader(SchemaSettings())
    samples = consistent(accepted_samples(reader))
    register = register_for(samples)
    planted_source = next(s for s in samples if s.path.name == PLANTED_SOURCE)
    planted = (
        planted_source.raw.replace(b"13116900216", FNR.encode())
        .replace(b"<GivenName>Line</GivenName>", b"<GivenName>Ingeborg</GivenName>")
        .replace(b"<FamilyName>Danser</FamilyName>", b"<FamilyName>Testesen-Planted</FamilyName>")
    )
    assert FNR.encode() in planted and b"Testesen-Planted" in planted
    assert reader.read(planted).accepted
    dialog = next(
        s
        for s in samples
        if s.envelope.family is Family.DIALOG
        and s.envelope.sender.organisation_her_id != s.envelope.receiver.organisation_her_id
        and len(s.raw) < 100_000
    )
    template = next(
        s.raw
        for s in samples
        if s.envelope.family is Family.APPREC and "2012-02-15" in s.envelope.root_namespace
    )
    env = dialog.envelope
    answer = apprec_answer(
        template,
        reader,
        env.msg_id or "",
        env.sender.organisation_her_id or 0,
        env.receiver.organisation_her_id or 0,
    )
    documents = [
        *(s.raw for s in samples),
        planted,
        dialog.raw,  # a re-send
        dialog.raw[: len(dialog.raw) // 2],  # not well-formed
        answer,  # the receiver answers
    ]

    settings = isolated_settings(kafka_bootstrap, partitions=1)
    sent = send_inbound(kafka_bootstrap, settings.kafka.topics.inbound.name, documents)
    expected = _known_counts(documents, sent, reader, register, settings)

    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, message_types_of(default_catalogue()))
    router = RouterComponent(
        *router_settings(settings), kafka_bootstrap, lambda: register, reader, Principals.open()
    )
    aggregator = StatisticsAggregator(
        settings.kafka, kafka_bootstrap, store, settings.statistics, metrics
    )
    with running(router), running(aggregator):
        events = read_all(
            kafka_bootstrap, settings.kafka.topics.events.name, sum(expected["events"].values()), 90
        )
        _wait_applied(store, len(events))

    # 1. the store's export
    today = datetime.now(UTC).date()
    rows = query_counts(
        store,
        StatisticsQuery(
            start=date(today.year, 1, 1), end=today, granularity="year", group_by=("family",)
        ),
    )
    exported = {
        (row["family"], column): row[column]
        for row in rows
        for column in ("routed", "rejected", "duplicates", "apprec_ok")
        if row[column]
    }
    assert exported == expected["export"]
    # 2. live metrics on /metrics
    live = Counter[tuple[str, str]]()
    for metric in registry.collect():
        if metric.name == "meldingshub_messages":
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.value:
                    live[(sample.labels["family"], sample.labels["outcome"])] += int(sample.value)
    assert {k: v for k, v in live.items() if k[1] in {"routed", "rejected", "duplicate"}} == {
        (family, {"duplicates": "duplicate"}.get(column, column)): n
        for (family, column), n in expected["export"].items()
        if column in {"routed", "rejected", "duplicates"}
    }

    # 3. nothing produced for operators carries the planted patient data
    query = StatisticsQuery(
        start=date(today.year, 1, 1), end=today, granularity="year", group_by=("family",)
    )
    export_text = render(rows, query, "csv", "Europe/Oslo") + render(
        rows, query, "json", "Europe/Oslo"
    )
    report = report_csv(build_report(store, today.year))
    produced = {
        "events topic": b"".join(r.value() or b"" for r in events).decode("latin-1"),
        "metrics": generate_latest(registry).decode(),
        "export": export_text,
        "report": report,
        "logs": "".join(capfd.readouterr()),
        "store": json.dumps([dict(r) for r in rows], default=str),
    }
    for where, text in produced.items():
        assert FNR not in text, f"fødselsnummer found in {where}"
        assert "Testesen-Planted" not in text and NAME not in text, f"patient name found in {where}"
    structlog.reset_defaults()


class _Known(TypedDict):
    events: Counter[EventType]
    export: Counter[tuple[str, str]]


def _known_counts(
    documents: list[bytes],
    sent: list[InboundMessage],
    reader: MessageReader,
    register: RegisterIndex,
    settings: Settings,
) -> _Known:
    """Counts from the pure pipeline over the same inputs, in the same (single-partition) order."""
    builder = OutputBuilder(settings.routing, Principals.open())
    seen: dict[str, str] = {}
    sent_index: dict[str, datetime] = {}
    events: Counter[EventType] = Counter()
    export: Counter[tuple[str, str]] = Counter()
    for raw, meta in zip(documents, sent, strict=True):
        decision = decide(
            reader.read(raw), meta, register, Principals.open(), seen.get, meta.received_at
        )
        envelope = decision.envelope
        original = None
        if envelope is not None and envelope.family is Family.APPREC and envelope.original_msg_id:
            original = sent_index.get(
                f"{envelope.receiver.organisation_her_id}|{envelope.original_msg_id}"
            )
        out = builder.build(decision, meta, raw, register, meta.received_at, original)
        if out.remember:
            seen.setdefault(*out.remember)
        for record in out.sent:
            sent_index[record.key] = record.received_at
        for event in out.events:
            events[event.event_type] += 1
            family = event.family.value
            if event.event_type is EventType.ROUTED and not event.is_copy:
                export[(family, "routed")] += 1
            elif event.event_type is EventType.REJECTED:
                export[(family, "rejected")] += 1
            elif event.event_type is EventType.DUPLICATE:
                export[(family, "duplicates")] += 1
            elif (
                event.event_type is EventType.APPREC_ROUTED
                and event.apprec_status is not None
                and event.apprec_status.value == "1"
            ):
                export[(family, "apprec_ok")] += 1
    assert export[("dialog", "duplicates")] >= 1 and export[("other", "rejected")] >= 1
    assert export[("apprec", "apprec_ok")] >= 1
    return {"events": events, "export": export}


def _wait_applied(store: StatisticsStore, count: int, timeout_s: float = 60) -> None:
    import time

    import sqlalchemy as sa

    from hubstats import schema

    deadline = time.monotonic() + timeout_s
    applied = 0
    while time.monotonic() < deadline:
        with store.engine.connect() as conn:
            applied = conn.execute(
                sa.select(sa.func.count()).select_from(schema.processed_events)
            ).scalar_one()
        if applied >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"the aggregator applied {applied} of {count} events")
