"""Odd input to the console's query fields is a page, never a 500 (SQLite store, no broker)."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hubstats.store import StatisticsStore
from tests.broker_adapters.http.test_console_session import OPERATOR, client, operators


@pytest.fixture
def console(tmp_path: Path) -> TestClient:
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    return client(store, operators())[0]


@pytest.mark.parametrize(
    "path",
    [
        "/console/messages?q=%C2%B2",  # '²': str.isdigit() says yes, int() says no
        "/console/messages?page=%C2%B2",
        "/console/messages?page=" + "9" * 5000,  # past int()'s digit limit
        "/console/receivers?lookup=%C2%B2",
        "/console/messages?since=0001-01-01T00:00%2B01:00",  # before year 1 in UTC
        "/console/messages?until=9999-12-31T23:59-01:00",  # after year 9999 in UTC
    ],
)
def test_odd_query_values_are_answered_not_a_server_error(console: TestClient, path: str) -> None:
    answer = console.get(path, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert answer.status_code == 200, answer.text[:300]


def test_a_form_with_too_many_fields_is_refused_not_a_server_error(console: TestClient) -> None:
    """Unauthenticated: the log-in form with more fields than the console parses."""
    fields = "&".join(f"f{n}=x" for n in range(1500)).encode()
    answer = console.post(
        "/console/login",
        content=fields,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 401, answer.text[:300]
