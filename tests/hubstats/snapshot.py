"""The exact content of a statistics store, for comparing two stores (order-free)."""

from typing import Any

import sqlalchemy as sa

from hubstats import schema
from hubstats.store import StatisticsStore


def counts_snapshot(store: StatisticsStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every count row of both count tables, sorted, with counts as ``int``."""
    snapshot = {}
    for table in (schema.daily_counts, schema.sender_daily):
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(table)).all()
        snapshot[table.name] = sorted(
            tuple(int(v) if name == "count" else v for name, v in row._mapping.items())
            for row in rows
        )
    return snapshot


def outcome_totals(store: StatisticsStore) -> dict[tuple[str, str], int]:
    """(family, outcome) -> count over all days and other dimensions."""
    table = schema.daily_counts
    statement = sa.select(table.c.family, table.c.outcome, sa.func.sum(table.c.count)).group_by(
        table.c.family, table.c.outcome
    )
    with store.engine.connect() as conn:
        return {(f, o): int(n) for f, o, n in conn.execute(statement)}
