"""The hub's Prometheus metrics, defined once and driven by ``MessageEvent`` records.

Any process can keep live metrics by calling :meth:`HubMetrics.observe` on the
events it emits (or consumes), so ``/metrics`` and the exact statistics are
computed from the same records. Every label value comes from a closed set
(:mod:`schemas.vocabulary`, :class:`schemas.outcomes.Outcome`, the message
catalogue), never from HER-ids, message ids or free text, and the series
dashboards rely on are created up front so panels show zeros, not gaps.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.catalogue import Catalogue
from schemas.outcomes import (
    UNKNOWN_MESSAGE_TYPE,
    Outcome,
    clean_message_type,
    clean_reason_code,
    outcome_of,
)
from schemas.records import MessageEvent
from schemas.vocabulary import (
    SPOOFING_REASON_PREFIX,
    AddressingMode,
    AppRecErrorCode,
    AppRecStatus,
    Category,
    EventType,
    Family,
)

MAX_OPEN_MESSAGE_TYPES = 300
"""Without a catalogue, at most this many distinct message types become label values."""

MEDICAL_FAMILIES = (Family.BASIS, Family.DIALOG, Family.PLO, Family.ERESEPT, Family.OTHER)

CATEGORY_PAIRS = (
    (Category.HELSEFORETAK, Category.KOMMUNE),
    (Category.KOMMUNE, Category.FASTLEGE),
    (Category.FASTLEGE, Category.KOMMUNE),
    (Category.KOMMUNE, Category.HELSEFORETAK),
)
"""The sender → receiver pairs the e-helsemonitor publishes; pre-initialised."""

BY_CATEGORY_OUTCOMES = frozenset({Outcome.ROUTED, Outcome.REJECTED})
"""Outcomes counted per category pair: 15 × 15 categories × 4 modes multiply quickly, and
the pair figures are about messages sent and refused; the rest is per family and type."""

LATENCY_BUCKETS_S = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0, 21600.0, 86400.0,
)  # fmt: skip
"""Routing is milliseconds; delivery with retries can take up to a day."""

APPREC_BUCKETS_S = (
    1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 12 * 3600.0, 86400.0, 2 * 86400.0,
    96 * 3600.0,
)  # fmt: skip
"""Receivers answer in seconds to days; after 96 h a missing AppRec counts as negative."""

SIZE_BUCKETS_BYTES = (
    2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 5_000_000,
    35_000_000,
)  # fmt: skip
"""Typical messages are 2–20 KB, e-resept up to 135 KB, with attachments several MB."""

_PREINIT_TYPE_OUTCOMES = (
    Outcome.ROUTED,
    Outcome.REJECTED,
    Outcome.DUPLICATE,
    Outcome.DELIVERED,
    Outcome.DELIVERY_FAILED,
)


class HubMetrics:
    """Every ``meldingshub_*`` metric of the hub, registered on an injected registry.

    ``message_types`` maps the catalogue's 8279 codes (see
    :func:`message_types_of`) to their family; with it the per-type series are
    pre-initialised and other codes count as ``UNKNOWN`` (see
    :meth:`message_type_label`).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        message_types: Mapping[str, Family] | None = None,
        consumer_groups: Iterable[str] = (),
    ) -> None:
        types = dict(message_types or {})
        self._exact_types = {code: family for code, family in types.items() if "*" not in code}
        self._prefixes: tuple[str, ...] | None = (
            None
            if message_types is None
            else tuple(code.rstrip("*") for code in types if code.endswith("*"))
        )
        self._open_types: set[str] = set()

        self.events = Counter(
            "meldingshub_events",
            "MessageEvent records observed, by event type.",
            ["event_type"],
            registry=registry,
        )
        self.messages = Counter(
            "meldingshub_messages",
            "Messages by family, 8279 message type and outcome (routed copies apart).",
            ["family", "message_type", "outcome"],
            registry=registry,
        )
        self.messages_by_category = Counter(
            "meldingshub_messages_by_category",
            "Messages routed or rejected, by family, sender and receiver category, addressing.",
            ["family", "sender_category", "receiver_category", "addressing_mode", "outcome"],
            registry=registry,
        )
        self.rejections = Counter(
            "meldingshub_rejections",
            "Messages the hub rejected, by family and AppRec error code (kodeverk 8221).",
            ["family", "reason_code"],
            registry=registry,
        )
        self.spoofing = Counter(
            "meldingshub_spoofing_rejected",
            "Messages the router rejected because their principal may not send as the sender "
            "they name, or AppRecs from a party that did not receive the original.",
            registry=registry,
        )
        self.message_size = Histogram(
            "meldingshub_message_size_bytes",
            "Size of each message at ingress, observed once per message at its routing outcome.",
            ["family"],
            buckets=SIZE_BUCKETS_BYTES,
            registry=registry,
        )
        self.ingress_to_routed = Histogram(
            "meldingshub_ingress_to_routed_seconds",
            "Time from ingress to routed, per message (copies not counted again).",
            ["family"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.ingress_to_delivered = Histogram(
            "meldingshub_ingress_to_delivered_seconds",
            "Time from ingress to delivery at the receiver's endpoint, per delivery.",
            ["family"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.apprec_round_trip = Histogram(
            "meldingshub_apprec_round_trip_seconds",
            "Time from routing a message to routing its receiver's AppRec back.",
            ["status"],
            buckets=APPREC_BUCKETS_S,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "meldingshub_consumer_lag_messages",
            "Records not yet consumed by a consumer group, summed over its partitions.",
            ["group"],
            registry=registry,
        )
        self.aggregator_events = Counter(
            "meldingshub_aggregator_events",
            "Events the statistics aggregator read, by result.",
            ["result"],
            registry=registry,
        )
        self.aggregator_batch = Histogram(
            "meldingshub_aggregator_batch_seconds",
            "Time to apply one consumed batch to the statistics store.",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self._messages: dict[tuple[str, str, str], Counter] = {}
        self._by_category: dict[tuple[str, str, str, str, str], Counter] = {}
        self._preinitialise(consumer_groups)

    # -- what the dashboards need to see as zeros ---------------------------------------------

    def _preinitialise(self, consumer_groups: Iterable[str]) -> None:
        for event_type in EventType:
            self.events.labels(event_type.value)
        for family in Family:
            self.message_size.labels(family.value)
            self.ingress_to_routed.labels(family.value)
            self.ingress_to_delivered.labels(family.value)
            for outcome in Outcome:
                self._message_child(family.value, UNKNOWN_MESSAGE_TYPE, outcome.value)
            for code in AppRecErrorCode:
                self.rejections.labels(family.value, code.value)
        for code_type, family in self._exact_types.items():
            for outcome in _PREINIT_TYPE_OUTCOMES:
                self._message_child(family.value, code_type, outcome.value)
        for family in MEDICAL_FAMILIES:
            for sender, receiver in CATEGORY_PAIRS:
                for mode in (AddressingMode.ORGANISATION, AddressingMode.SERVICE):
                    for outcome in (Outcome.ROUTED, Outcome.REJECTED):
                        self._category_child(
                            (family.value, sender.value, receiver.value, mode.value, outcome.value)
                        )
        for status in AppRecStatus:
            self.apprec_round_trip.labels(status.value)
        for group in consumer_groups:
            self.consumer_lag.labels(group)
        for result in ("applied", "already_applied", "undecodable"):
            self.aggregator_events.labels(result)

    def _message_child(self, family: str, message_type: str, outcome: str) -> Counter:
        key = (family, message_type, outcome)
        child = self._messages.get(key)
        if child is None:
            child = self._messages[key] = self.messages.labels(*key)
        return child

    def _category_child(self, key: tuple[str, str, str, str, str]) -> Counter:
        child = self._by_category.get(key)
        if child is None:
            child = self._by_category[key] = self.messages_by_category.labels(*key)
        return child

    def message_type_label(self, message_type: str) -> str:
        """The label value for ``message_type``: a known code, or ``UNKNOWN``.

        A catalogue code is itself; a code under a catalogue prefix (``NPR_*``), or
        any well-formed code when there is no catalogue, is itself while fewer than
        :data:`MAX_OPEN_MESSAGE_TYPES` such codes have been seen.
        """
        if message_type in self._exact_types or message_type in self._open_types:
            return message_type
        open_ok = self._prefixes is None or message_type.startswith(self._prefixes)
        if (
            open_ok
            and clean_message_type(message_type) == message_type
            and len(self._open_types) < MAX_OPEN_MESSAGE_TYPES
        ):
            self._open_types.add(message_type)
            return message_type
        return UNKNOWN_MESSAGE_TYPE

    # -- driven by events ---------------------------------------------------------------------

    def observe(self, event: MessageEvent) -> None:
        """Count one event (call once per event; the statistics store is the exact record)."""
        self.events.labels(event.event_type.value).inc()
        if event.event_type is EventType.ACCEPTED:
            return
        family = event.family.value
        outcome = outcome_of(
            event.event_type, is_copy=event.is_copy, apprec_status=event.apprec_status
        )
        self._message_child(family, self.message_type_label(event.message_type), outcome).inc()
        if outcome in BY_CATEGORY_OUTCOMES:
            self._category_child(
                (
                    family,
                    event.sender_category.value,
                    event.receiver_category.value,
                    event.addressing_mode.value,
                    outcome.value,
                )
            ).inc()
        if outcome in (Outcome.ROUTED, Outcome.REJECTED, Outcome.DUPLICATE):
            self.message_size.labels(family).observe(event.size_bytes)
        if outcome is Outcome.REJECTED:
            code = clean_reason_code(event.reason_code) or AppRecErrorCode.X99.value
            self.rejections.labels(family, code).inc()
            if (event.reason or "").startswith(SPOOFING_REASON_PREFIX):
                self.spoofing.inc()
        elif outcome is Outcome.ROUTED:
            self.ingress_to_routed.labels(family).observe(
                _seconds_between(event.received_at, event.occurred_at)
            )
        elif outcome is Outcome.DELIVERED:
            self.ingress_to_delivered.labels(family).observe(
                _seconds_between(event.received_at, event.occurred_at)
            )
        elif event.event_type is EventType.APPREC_ROUTED and event.apprec_round_trip_ms is not None:
            status = event.apprec_status or ""
            if status in AppRecStatus._value2member_map_:
                self.apprec_round_trip.labels(status).observe(
                    max(0.0, event.apprec_round_trip_ms / 1000)
                )

    # -- fed by callers -----------------------------------------------------------------------

    def set_consumer_lag(self, group: str, lag: int) -> None:
        """Report the lag of consumer ``group`` (a configured group name, never an id)."""
        self.consumer_lag.labels(group).set(max(0, lag))


def message_types_of(catalogue: Catalogue) -> dict[str, Family]:
    """The catalogue's type codes and their families (prefix codes keep their ``*``)."""
    return {code: entry.family for entry in catalogue.entries for code in entry.type_codes}


def _seconds_between(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())
