"""No patient data gets through metrics, the store, the export or the report.

Events have no payload, so a fødselsnummer or a name could only arrive in a text
field of an event. We plant both in every text field that is not an id and grep
everything this package produces; and we pin the store's columns so that a
free-text column cannot be added without this test noticing.
"""

import json
import uuid
from datetime import date

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from structlog.testing import capture_logs

from hubstats import schema
from hubstats.export import StatisticsQuery, query_counts, render
from hubstats.report import build_report, report_csv
from hubstats.store import StatisticsStore
from metrics.live import HubMetrics
from schemas.records import MessageEvent
from schemas.vocabulary import EventType
from tests.support.events import event, known_scenario

FODSELSNUMMER = "01017012345"
NAME = "Kari Nordmann"

ALLOWED_TEXT_COLUMNS = {
    # closed sets and codes
    "family", "message_type", "sender_category", "receiver_category", "addressing_mode",
    "outcome", "reason_code", "apprec_status", "stage", "adapter", "endpoint_kind", "state",
    # ids chosen by the sending system or the hub's configuration, never by a patient
    "msg_id", "original_msg_id", "principal", "worker",
    # digests
    "endpoint_digest",
}  # fmt: skip


def planted_events() -> list[MessageEvent]:
    text = f"{NAME} {FODSELSNUMMER}"
    events = list(known_scenario().events)
    for event_type in (EventType.REJECTED, EventType.ROUTED, EventType.DELIVERY_FAILED):
        events.append(
            event(
                event_type,
                uuid.uuid4(),
                message_type=f"X {text}",
                message_version=text,
                reason=f"patient {text} not found",
                reason_code=text,
                endpoint_kind=text,
                attempt=1,
            )
        )
    return events


def test_planted_patient_data_appears_nowhere(store: StatisticsStore) -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry)
    with capture_logs() as logs:
        for item in planted_events():
            metrics.observe(item)
        store.apply(planted_events())
        query = StatisticsQuery(
            date(2024, 1, 1), date(2024, 12, 31), "day", tuple(schema.DIMENSIONS)
        )
        rows = query_counts(store, query)
        produced = [
            generate_latest(registry).decode(),
            render(rows, query, "csv", "Europe/Oslo"),
            render(rows, query, "json", "Europe/Oslo"),
            report_csv(build_report(store, 2024)),
            json.dumps(logs, default=str),
            dump(store),
        ]
    for text in produced:
        assert FODSELSNUMMER not in text
        assert NAME not in text
        assert "Nordmann" not in text


def dump(store: StatisticsStore) -> str:
    """Every row of every table, as text."""
    lines: list[str] = []
    with store.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            lines.extend(repr(tuple(row)) for row in conn.execute(sa.select(table)))
    return "\n".join(lines)


def test_the_store_has_no_free_text_column() -> None:
    for table in schema.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, sa.String):
                assert column.name in ALLOWED_TEXT_COLUMNS, f"{table.name}.{column.name}"
                assert column.type.length is not None and column.type.length <= schema.ID_LENGTH
