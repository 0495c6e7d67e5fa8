"""The e-helsemonitor indicators, regenerated from the statistics store for a year or a month.

Every figure is computed through :func:`hubstats.export.query_counts`, so the
report and the export can never disagree. Counting rules (see
``hubstats/README.md``): a message counts once, where it was routed to its
receiver (``routed``); copies, re-sends and AppRecs are not messages sent.
"""

import calendar
import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from hubstats import schema
from hubstats.export import Granularity, StatisticsQuery, query_counts
from hubstats.published import Comparison, comparisons, pair_label
from hubstats.store import StatisticsStore
from schemas.vocabulary import AddressingMode, Category, Family

MEDICAL_FAMILIES = (Family.BASIS, Family.PLO, Family.DIALOG, Family.ERESEPT, Family.OTHER)
"""The families of "medisinske meldinger", in the order the monitor lists them."""

NATIONAL_BODIES = frozenset(
    {
        Category.NAV.value,
        Category.HELFO.value,
        Category.FHI.value,
        Category.HELSEDIREKTORATET.value,
        Category.SKATTEETATEN.value,
        Category.KREFTREGISTERET.value,
        Category.NPR.value,  # part of Helsedirektoratet in the years of the published figures
    }
)
"""Messages of family ``other`` are medical messages only when they go to or come from these."""
BODIES_IN_ORDER = (
    Category.NAV,
    Category.HELFO,
    Category.FHI,
    Category.HELSEDIREKTORATET,
    Category.SKATTEETATEN,
    Category.KREFTREGISTERET,
    Category.NPR,
)
FROM_A_BODY = "from a national body"
"""Label of the other messages a national body sends to a party that is not one."""

PAIRS = (
    (Category.HELSEFORETAK.value, Category.KOMMUNE.value),
    (Category.KOMMUNE.value, Category.FASTLEGE.value),
    (Category.FASTLEGE.value, Category.KOMMUNE.value),
    (Category.KOMMUNE.value, Category.HELSEFORETAK.value),
)
OTHER_PAIRS = "øvrige"
PRESCRIBED, DISPENSED = "ERM1", "ERM10"
PRESCRIBER_WINDOW_DAYS = 100


@dataclass(frozen=True, slots=True)
class Value:
    """One figure of an indicator: which series, which label (a category, month, ...)."""

    series: str
    label: str
    value: float | None
    """``None`` for a share whose denominator is zero."""


@dataclass(frozen=True, slots=True)
class Indicator:
    """One e-helsemonitor indicator for the report's period."""

    key: str
    """Stable identifier, also the PNG file name."""
    title: str
    unit: str
    """``messages``, ``percent`` or ``organisations``."""
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Report:
    """The indicators of one period."""

    period: str
    start: date
    end: date
    indicators: tuple[Indicator, ...]
    scale: int = 1
    """The report's counts are 1:``scale`` of the national traffic (a simulated year)."""
    compared: Mapping[tuple[str, str, str], Comparison] = field(default_factory=dict)
    """(indicator, series, label) -> the value × scale beside its published figure."""

    def comparison(self, indicator: Indicator, value: Value) -> Comparison:
        """``value`` of ``indicator`` at national size, with its published figure if any."""
        return self.compared[(indicator.key, value.series, value.label)]


def period_of(year: int, month: int | None = None) -> tuple[date, date]:
    """First and last day of ``year`` or of ``month`` in it."""
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def build_report(
    store: StatisticsStore, year: int, month: int | None = None, scale: int = 1
) -> Report:
    """Compute every indicator for ``year`` (or ``month`` of it) from ``store``; ``scale``:
    the counts are 1:``scale`` of the national traffic (1: they are the national traffic)."""
    start, end = period_of(year, month)

    def rows(*group_by: str, granularity: Granularity = "year") -> list[dict[str, Any]]:
        return query_counts(store, StatisticsQuery(start, end, granularity, group_by))

    categories = rows("family", "sender_category", "receiver_category", granularity="month")
    per_family = _medical_per_family(categories)
    pairs = rows("family", "sender_category", "receiver_category", "addressing_mode")
    eresept = rows("message_type", "sender_category", granularity="month")
    families = rows("family")
    indicators = (
        Indicator(
            "medical_messages_total",
            "Medical messages sent (medisinske meldinger)",
            "messages",
            (Value("messages", "total", float(sum(per_family.values()))),),
        ),
        Indicator(
            "messages_per_family",
            "Medical messages per family",
            "messages",
            tuple(Value("messages", f.value, float(per_family[f.value])) for f in MEDICAL_FAMILIES),
        ),
        Indicator(
            "medical_messages_per_month",
            "Medical messages sent per month",
            "messages",
            _medical_per_month(categories, start, end),
        ),
        Indicator(
            "other_per_receiver_category",
            "Other medical messages per national body (receiver category)",
            "messages",
            _other_per_body(categories),
        ),
        Indicator(
            "plo_dialog_per_category_pair",
            "PLO and dialog messages per sender → receiver category",
            "messages",
            tuple(
                Value("messages", label, float(total))
                for label, (total, _service) in _pair_totals(pairs).items()
            ),
        ),
        Indicator(
            "service_addressing_share",
            "Share of PLO and dialog messages addressed to a service (tjenestebasert adressering)",
            "percent",
            tuple(
                Value("service addressed", label, _percent(service, total))
                for label, (total, service) in _pair_totals(pairs).items()
            ),
        ),
        Indicator(
            "eresept_per_month",
            "e-resept prescribed (ERM1) and dispensed (ERM10) per month",
            "messages",
            _eresept_per_month(eresept, start, end),
        ),
        Indicator(
            "eresept_in_period",
            "e-resept prescribed (ERM1) and dispensed (ERM10) in the period",
            "messages",
            _eresept_in_period(eresept, label_of(year, month)),
        ),
        Indicator(
            "eresept_specialist_share",
            "Share of prescriptions (ERM1) from specialist care (helseforetak)",
            "percent",
            (_specialist_share(eresept),),
        ),
        Indicator(
            "unique_prescribers_100_days",
            f"Prescribing organisations in the last {PRESCRIBER_WINDOW_DAYS} days of the period",
            "organisations",
            (Value("organisations", end.isoformat(), float(unique_prescribers(store, end))),),
        ),
        Indicator(
            "apprec_rejection_rate",
            "Rejected messages per family: hub rejections and negative AppRecs from receivers",
            "percent",
            _rejection_rates(families),
        ),
    )
    label = label_of(year, month)
    compared = comparisons(
        label,
        {i.key: i.unit for i in indicators},
        ((i.key, v.series, v.label, v.value) for i in indicators for v in i.values),
        scale,
    )
    return Report(label, start, end, indicators, scale, compared)


def label_of(year: int, month: int | None = None) -> str:
    """The period's label: ``YYYY`` or ``YYYY-MM``."""
    return f"{year}-{month:02d}" if month is not None else str(year)


def _is_medical(row: Mapping[str, Any]) -> bool:
    family = row["family"]
    if family == Family.OTHER.value:
        return (
            row["sender_category"] in NATIONAL_BODIES or row["receiver_category"] in NATIONAL_BODIES
        )
    return family in {f.value for f in MEDICAL_FAMILIES}


def _medical_per_family(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    totals = {family.value: 0 for family in MEDICAL_FAMILIES}
    for row in rows:
        if _is_medical(row):
            totals[row["family"]] += row["routed"]
    return totals


def _months(start: date, end: date) -> list[str]:
    months: list[str] = []
    cursor = start
    while cursor <= end:
        months.append(f"{cursor.year}-{cursor.month:02d}")
        cursor = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _medical_per_month(
    rows: Iterable[Mapping[str, Any]], start: date, end: date
) -> tuple[Value, ...]:
    counts = dict.fromkeys(_months(start, end), 0)
    for row in rows:
        if _is_medical(row) and row["period"] in counts:
            counts[row["period"]] += row["routed"]
    return tuple(Value("messages", month, float(n)) for month, n in counts.items())


def _other_per_body(rows: Iterable[Mapping[str, Any]]) -> tuple[Value, ...]:
    """The other medical messages by the body that received them; those a body sent to a
    party that is not one apart, so the values add up to the family's total."""
    counts = {body.value: 0 for body in BODIES_IN_ORDER}
    sent_by_bodies = 0
    for row in rows:
        if row["family"] != Family.OTHER.value or not _is_medical(row):
            continue
        if row["receiver_category"] in counts:
            counts[row["receiver_category"]] += row["routed"]
        else:
            sent_by_bodies += row["routed"]
    values = [Value("messages", body, float(n)) for body, n in counts.items()]
    return (*values, Value("messages", FROM_A_BODY, float(sent_by_bodies)))


def _pair_totals(rows: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, int]]:
    """``"a → b"`` -> (PLO+dialog messages, of them addressed to a service)."""
    totals = {pair_label(Category(s), Category(r)): [0, 0] for s, r in PAIRS}
    totals[OTHER_PAIRS] = [0, 0]
    for row in rows:
        if row["family"] not in (Family.PLO.value, Family.DIALOG.value):
            continue
        pair = (row["sender_category"], row["receiver_category"])
        label = pair_label(Category(pair[0]), Category(pair[1])) if pair in PAIRS else OTHER_PAIRS
        totals[label][0] += row["routed"]
        if row["addressing_mode"] == AddressingMode.SERVICE.value:
            totals[label][1] += row["routed"]
    return {label: (total, service) for label, (total, service) in totals.items()}


def _eresept_per_month(
    rows: Iterable[Mapping[str, Any]], start: date, end: date
) -> tuple[Value, ...]:
    months = _months(start, end)
    counts = {(code, month): 0 for code in (PRESCRIBED, DISPENSED) for month in months}
    for row in rows:
        key = (row["message_type"], row["period"])
        if key in counts:
            counts[key] += row["routed"]
    return tuple(
        Value(f"{name} ({code})", month, float(counts[(code, month)]))
        for code, name in ((PRESCRIBED, "prescribed"), (DISPENSED, "dispensed"))
        for month in months
    )


def _eresept_in_period(rows: Iterable[Mapping[str, Any]], label: str) -> tuple[Value, ...]:
    counts = {PRESCRIBED: 0, DISPENSED: 0}
    for row in rows:
        if row["message_type"] in counts:
            counts[row["message_type"]] += row["routed"]
    return (
        Value(f"prescribed ({PRESCRIBED})", label, float(counts[PRESCRIBED])),
        Value(f"dispensed ({DISPENSED})", label, float(counts[DISPENSED])),
    )


def _specialist_share(rows: Iterable[Mapping[str, Any]]) -> Value:
    prescribed = specialist = 0
    for row in rows:
        if row["message_type"] == PRESCRIBED:
            prescribed += row["routed"]
            if row["sender_category"] == Category.HELSEFORETAK.value:
                specialist += row["routed"]
    return Value("specialist care", "share of ERM1", _percent(specialist, prescribed))


def _rejection_rates(rows: Iterable[Mapping[str, Any]]) -> tuple[Value, ...]:
    by_family = {row["family"]: row for row in rows}
    values = []
    for family in (*MEDICAL_FAMILIES, Family.APPREC):
        row = by_family.get(family.value)
        if family is Family.APPREC:
            # AppRecs routed back: the share of them that were negative (status 2).
            answered = (
                sum(row[c] for c in ("apprec_ok", "apprec_rejected", "apprec_ok_error_in_part"))
                if row
                else 0
            )
            rejected = row["apprec_rejected"] if row else 0
            values.append(Value("rejected", "receivers' AppRecs", _percent(rejected, answered)))
            continue
        handled = (row["routed"] + row["rejected"]) if row else 0
        rejected = (row["rejected"] + row["apprec_rejected"]) if row else 0
        values.append(Value("rejected", family.value, _percent(rejected, handled)))
    return tuple(values)


def unique_prescribers(store: StatisticsStore, end: date) -> int:
    """Distinct organisations that sent a prescription (ERM1) in the 100 days ending ``end``."""
    table = schema.sender_daily
    start = end - timedelta(days=PRESCRIBER_WINDOW_DAYS - 1)
    statement = sa.select(sa.func.count(sa.distinct(table.c.sender_her_id))).where(
        table.c.day >= start, table.c.day <= end, table.c.message_type == PRESCRIBED
    )
    with store.engine.connect() as conn:
        return int(conn.execute(statement).scalar() or 0)


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def report_csv(report: Report) -> str:
    """The report in long form: one line per figure, stable columns; ``scaled`` is the value
    at national size (× the scale for counts of messages), ``published`` the e-helsemonitor
    figure it reproduces and ``ratio`` the one over the other (empty where none is published)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS])
    for indicator in report.indicators:
        for value in indicator.values:
            compared = report.comparison(indicator, value)
            writer.writerow(
                [
                    report.period,
                    indicator.key,
                    value.series,
                    value.label,
                    _number(value.value),
                    indicator.unit,
                    f"1:{report.scale}",
                    _number(compared.scaled),
                    _number(compared.published),
                    "" if compared.ratio is None else f"{compared.ratio:.4f}",
                ]
            )
    return out.getvalue()


CSV_COLUMNS = (
    "period",
    "indicator",
    "series",
    "label",
    "value",
    "unit",
    "scale",
    "scaled",
    "published",
    "ratio",
)
"""The report's CSV columns; new ones are only ever added at the end."""


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
