"""Compares the hub's statistics export with a simulation's truth, cell by cell.

The export is read through :func:`hubstats.export.query_counts`, the same query
``meldingshub stats export`` and the HTTP API answer, per day and every
dimension, over the truth's days. Every column the simulation determines is
compared (``accepted``, ``routed``, ``routed_copies``, ``rejected``,
``duplicates`` and the receivers' AppRec columns); a cell the truth does not
name must be zero. Delivery columns depend on the receivers' endpoints and are
not compared.

The hub's own negative AppRecs (family ``apprec``, column ``routed``) are counted
on the day the hub sends them, not on the original's day, so they are compared
as totals per receiving category from the truth's first day until today; more
than expected is allowed, because delivery also answers with X99 when it gives
up on an endpoint.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime
from typing import Any

from hubstats.export import StatisticsQuery, query_counts
from hubstats.schema import DIMENSIONS
from hubstats.store import StatisticsStore
from meldingshub.simulator.traffic import Dims
from meldingshub.simulator.truth import Truth
from schemas.vocabulary import Family

COMPARED = (
    "accepted",
    "routed",
    "routed_copies",
    "rejected",
    "duplicates",
    "apprec_ok",
    "apprec_rejected",
    "apprec_ok_error_in_part",
    "apprec_unknown",
)
"""Export columns a simulation fully determines."""

_HUB_APPRECS = "hub AppRecs"


@dataclass(frozen=True, slots=True)
class Difference:
    """One export figure that is not what the truth says."""

    day: date | None
    """``None`` for totals over the whole run (the hub's own AppRecs)."""
    dims: Dims
    column: str
    expected: int
    actual: int

    def __str__(self) -> str:
        when = self.day.isoformat() if self.day else "all days"
        d = self.dims
        return (
            f"{when} {d.family}/{d.message_type} {d.sender_category} → {d.receiver_category} "
            f"({d.addressing_mode}): {self.column} expected {self.expected}, hub {self.actual}"
        )


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a comparison."""

    differences: tuple[Difference, ...]
    cells: int
    """Cells (day × dimensions) compared."""
    expected_total: int
    """Sum of the compared counts the truth expects."""
    timezone_note: str | None = None

    @property
    def ok(self) -> bool:
        """True when the export matches the truth."""
        return not self.differences


def _dims(row: Mapping[str, Any]) -> Dims:
    return Dims(*(str(row[name]) for name in DIMENSIONS))


def verify(store: StatisticsStore, truth: Truth, today: date | None = None) -> Verification:
    """Every difference between the store's export and ``truth``."""
    note = None
    if store.zone.key != truth.timezone:
        note = (
            f"the store counts days in {store.zone.key}, the truth in {truth.timezone}; "
            "set MELDINGSHUB_STATISTICS__TIMEZONE to the truth's zone"
        )
    first, last = truth.first_day, truth.last_day
    if first is None or last is None:
        return Verification((), 0, 0, note)
    rows = query_counts(store, StatisticsQuery(first, last, "day", DIMENSIONS))
    actual: dict[tuple[date, Dims], Mapping[str, Any]] = {
        (date.fromisoformat(str(row["period"])), _dims(row)): row for row in rows
    }
    differences: list[Difference] = []
    expected_total = 0
    keys = sorted(set(actual) | set(truth.cells), key=lambda k: (k[0], astuple(k[1])))
    for key in keys:
        expected = truth.cells.get(key, Counter())
        got = actual.get(key, {})
        day, dims = key
        for column in COMPARED:
            if column == "routed" and dims.family == Family.APPREC.value:
                continue  # the hub's own AppRecs: compared as totals below
            want, have = int(expected.get(column, 0)), int(got.get(column, 0))
            expected_total += want
            if want != have:
                differences.append(Difference(day, dims, column, want, have))
    differences.extend(_hub_apprecs(store, truth, first, today or datetime.now(UTC).date()))
    return Verification(tuple(differences), len(keys), expected_total, note)


def _hub_apprecs(
    store: StatisticsStore, truth: Truth, first: date, today: date
) -> list[Difference]:
    end = max(today, truth.last_day or first)
    rows = query_counts(
        store,
        StatisticsQuery(
            first, end, "year", ("receiver_category",), {"family": (Family.APPREC.value,)}
        ),
    )
    actual: Counter[str] = Counter()
    for row in rows:
        actual[str(row["receiver_category"])] += int(row["routed"])
    differences = []
    for category in sorted(set(actual) | set(truth.hub_apprecs)):
        want, have = truth.hub_apprecs.get(category, 0), actual.get(category, 0)
        if have < want:
            dims = Dims(Family.APPREC.value, "APPREC", _HUB_APPRECS, category, "organisation")
            differences.append(Difference(None, dims, "routed", want, have))
    return differences
