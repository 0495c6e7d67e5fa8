"""Exact counts for monitor jobs: one query shape shared by the CLI export and the HTTP API.

Rows are periods (day, month or year in the store's calendar) × the chosen
dimensions, with one column per outcome. Column names are a published
interface (documented in ``hubstats/README.md``): add columns, never rename.
"""

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, get_args

import sqlalchemy as sa

from hubstats import schema
from hubstats.errors import QueryError
from hubstats.store import StatisticsStore
from schemas.outcomes import Outcome

Granularity = Literal["day", "month", "year"]
ExportFormat = Literal["csv", "json"]

GRANULARITIES: tuple[str, ...] = get_args(Granularity)
FORMATS: tuple[str, ...] = get_args(ExportFormat)

COUNT_COLUMNS: dict[str, Outcome] = {
    "routed": Outcome.ROUTED,
    "routed_copies": Outcome.ROUTED_COPY,
    "rejected": Outcome.REJECTED,
    "duplicates": Outcome.DUPLICATE,
    "delivered": Outcome.DELIVERED,
    "delivery_failed": Outcome.DELIVERY_FAILED,
    "delivery_retried": Outcome.DELIVERY_RETRIED,
    "apprec_ok": Outcome.APPREC_OK,
    "apprec_rejected": Outcome.APPREC_REJECTED,
    "apprec_ok_error_in_part": Outcome.APPREC_OK_ERROR_IN_PART,
    "apprec_unknown": Outcome.APPREC_UNKNOWN,
    "accepted": Outcome.ACCEPTED,
}
"""Export column -> the outcome it sums, in column order (see ``hubstats/README.md``)."""

MAX_DAYS = 366 * 20
"""The longest period one query may span."""


@dataclass(frozen=True, slots=True)
class StatisticsQuery:
    """Which counts to export: an inclusive date range, a granularity, dimensions and filters."""

    start: date
    end: date
    granularity: Granularity = "month"
    group_by: tuple[str, ...] = ()
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Dimension -> accepted values (rows with any other value are left out)."""

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise QueryError(f"--to {self.end} is before --from {self.start}")
        if (self.end - self.start).days >= MAX_DAYS:
            raise QueryError(f"a query may span at most {MAX_DAYS} days; split it")
        if self.granularity not in GRANULARITIES:
            raise QueryError(
                f"granularity {self.granularity!r} is not one of {', '.join(GRANULARITIES)}"
            )
        for name in (*self.group_by, *self.filters):
            if name not in schema.DIMENSIONS:
                raise QueryError(
                    f"{name!r} is not a statistics dimension; choose from "
                    f"{', '.join(schema.DIMENSIONS)}"
                )
        if len(set(self.group_by)) != len(self.group_by):
            raise QueryError("a dimension is named twice in group-by")

    @property
    def columns(self) -> list[str]:
        """The export's columns, in order."""
        ordered = [d for d in schema.DIMENSIONS if d in self.group_by]
        return ["period", *ordered, *COUNT_COLUMNS]


def _period(dialect: str, granularity: Granularity) -> sa.ColumnElement[str]:
    day = schema.daily_counts.c.day
    if dialect == "postgresql":
        pattern = {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[granularity]
        return sa.func.to_char(day, pattern)
    pattern = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[granularity]
    return sa.func.strftime(pattern, day)


def query_counts(store: StatisticsStore, query: StatisticsQuery) -> list[dict[str, Any]]:
    """The rows of ``query``: one dict per period and dimension combination that has counts."""
    table = schema.daily_counts
    period = _period(store.engine.dialect.name, query.granularity).label("period")
    dimensions = [table.c[name] for name in schema.DIMENSIONS if name in query.group_by]
    sums = [
        sa.func.sum(sa.case((table.c.outcome == outcome.value, table.c.count), else_=0)).label(
            column
        )
        for column, outcome in COUNT_COLUMNS.items()
    ]
    statement = (
        sa.select(period, *dimensions, *sums)
        .where(table.c.day >= query.start, table.c.day <= query.end)
        .group_by(period, *dimensions)
        .order_by(period, *dimensions)
    )
    for name, values in query.filters.items():
        statement = statement.where(table.c[name].in_(values))
    with store.engine.connect() as conn:
        result = conn.execute(statement)
        return [
            {
                key: int(value) if key in COUNT_COLUMNS else value
                for key, value in row._mapping.items()
            }
            for row in result
        ]


def render(
    rows: Sequence[Mapping[str, Any]],
    query: StatisticsQuery,
    fmt: ExportFormat,
    timezone: str,
) -> str:
    """``rows`` as CSV (header line first) or as a JSON document with the query beside them."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=query.columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    if fmt == "json":
        document = {
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "granularity": query.granularity,
            "group_by": [d for d in schema.DIMENSIONS if d in query.group_by],
            "filters": {k: list(v) for k, v in sorted(query.filters.items())},
            "timezone": timezone,
            "columns": query.columns,
            "rows": list(rows),
        }
        return json.dumps(document, ensure_ascii=False, indent=1) + "\n"
    raise QueryError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
