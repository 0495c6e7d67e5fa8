"""The e-helsemonitor's published figures, and the hub's report set beside them at a scale.

These are the seed figures of the national statistics (DOMAIN.md, section 6), the
one place they are written down: the simulator's calibrated mixes take them from
here, and ``meldingshub monitor report --scale 1:N`` shows each of the report's
figures × N beside the published one it reproduces, with their ratio. Each
figure names the indicator, series and label of the report value it answers,
so a report of the same period finds it without any mapping of its own.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from schemas.vocabulary import Category

SCALED_UNITS = frozenset({"messages"})
"""Units whose figures grow with the scale; shares and organisations do not."""


def pair_label(sender: Category, receiver: Category) -> str:
    """How the report labels a sender → receiver category pair."""
    return f"{sender.value} → {receiver.value}"


@dataclass(frozen=True, slots=True)
class Published:
    """One published figure: the period it covers and the report value it answers."""

    period: str
    """``YYYY`` for a year's figure, ``YYYY-MM`` for a month's."""
    indicator: str
    series: str
    label: str
    value: float


HF, KOMMUNE, FASTLEGE = Category.HELSEFORETAK, Category.KOMMUNE, Category.FASTLEGE

PUBLISHED: tuple[Published, ...] = (
    Published("2019", "medical_messages_total", "messages", "total", 211_500_000),
    Published("2020", "medical_messages_total", "messages", "total", 193_500_000),
    Published("2017", "messages_per_family", "messages", "basis", 33_000_000),
    Published("2018", "messages_per_family", "messages", "basis", 36_000_000),
    Published("2019", "messages_per_family", "messages", "basis", 39_000_000),
    Published("2020", "messages_per_family", "messages", "basis", 47_000_000),
    Published(
        "2019", "plo_dialog_per_category_pair", "messages", pair_label(HF, KOMMUNE), 1_510_000
    ),
    Published(
        "2019", "plo_dialog_per_category_pair", "messages", pair_label(KOMMUNE, FASTLEGE), 1_460_000
    ),
    Published(
        "2019", "plo_dialog_per_category_pair", "messages", pair_label(FASTLEGE, KOMMUNE), 1_400_000
    ),
    Published("2019", "plo_dialog_per_category_pair", "messages", pair_label(KOMMUNE, HF), 647_000),
    Published("2019-12", "eresept_per_month", "prescribed (ERM1)", "2019-12", 2_300_000),
    Published("2019-12", "eresept_per_month", "dispensed (ERM10)", "2019-12", 4_500_000),
    Published("2020", "eresept_in_period", "prescribed (ERM1)", "2020", 28_400_000),
    Published("2019", "eresept_specialist_share", "specialist care", "share of ERM1", 12.5),
)
"""The published figures (e-helsemonitor; DOMAIN.md section 6). The specialist share of
prescriptions is given without a year; it is set against 2019, the year the mixes model."""


def figure(period: str, indicator: str, series: str, label: str) -> float:
    """The published figure for a report value; KeyError when none is published."""
    for item in PUBLISHED:
        if (item.period, item.indicator, item.series, item.label) == (
            period,
            indicator,
            series,
            label,
        ):
            return item.value
    raise KeyError(f"no published figure for {indicator}/{series}/{label} in {period}")


def applies(item: Published, period: str) -> bool:
    """Whether a report of ``period`` (``YYYY`` or ``YYYY-MM``) holds ``item``'s value:
    the same period, or a month's figure within a year's report."""
    return item.period == period or item.period[:4] == period


@dataclass(frozen=True, slots=True)
class Comparison:
    """A report value beside the figure it reproduces."""

    indicator: str
    series: str
    label: str
    counted: float | None
    scaled: float | None
    """``counted`` × the scale for counts of messages; the share itself for shares."""
    published: float | None
    ratio: float | None
    """``scaled`` / ``published``: 1.0 is a perfect reproduction."""


def scaled_value(value: float | None, unit: str, scale: int) -> float | None:
    """A report value at national size: counts of messages × ``scale``, others as they are."""
    if value is None:
        return None
    return value * scale if unit in SCALED_UNITS else value


def comparisons(
    period: str,
    unit_of: dict[str, str],
    values: Iterable[tuple[str, str, str, float | None]],
    scale: int,
) -> dict[tuple[str, str, str], Comparison]:
    """Every report value (indicator, series, label, value) at ``scale``, with the published
    figure of ``period`` where there is one."""
    known = {
        (item.indicator, item.series, item.label): item.value
        for item in PUBLISHED
        if applies(item, period)
    }
    result = {}
    for indicator, series, label, value in values:
        key = (indicator, series, label)
        scaled = scaled_value(value, unit_of[indicator], scale)
        published = known.get(key)
        ratio = None if scaled is None or not published else round(scaled / published, 4)
        result[key] = Comparison(indicator, series, label, value, scaled, published, ratio)
    return result
