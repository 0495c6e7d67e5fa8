"""Statistics stores for the metrics tests: a SQLite file, and a fresh PostgreSQL schema."""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hubstats.store import StatisticsStore

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

StoreFactory = Callable[[], StatisticsStore]


def _sqlite_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    stores: list[StatisticsStore] = []

    def make() -> StatisticsStore:
        path = tmp_path / f"stats-{uuid.uuid4().hex[:8]}.sqlite3"
        store = StatisticsStore.open(f"sqlite:///{path}")
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()


def _postgres_factory() -> Iterator[StoreFactory]:
    """Each store gets its own schema (dropped afterwards), so test runs never share tables."""
    admin = sa.create_engine(POSTGRES)
    schemas: list[str] = []
    stores: list[StatisticsStore] = []

    def make() -> StatisticsStore:
        name = f"stats_test_{uuid.uuid4().hex[:12]}"
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        schemas.append(name)
        store = StatisticsStore.open(f"{POSTGRES}?options=-csearch_path%3D{name}")
        stores.append(store)
        return store

    try:
        yield make
    finally:
        for store in stores:
            store.close()
        with admin.begin() as conn:
            for name in schemas:
                conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Fresh, migrated stores on the parametrised backend."""
    if request.param == "sqlite":
        yield from _sqlite_factory(tmp_path)
    else:
        yield from _postgres_factory()


@pytest.fixture
def store(store_factory: StoreFactory) -> StatisticsStore:
    """One fresh, migrated store."""
    return store_factory()
