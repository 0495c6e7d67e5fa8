"""Export of exact counts: query, CSV/JSON rendering, the HTTP API and the CLI agree."""

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from hubstats.api import statistics_router
from hubstats.errors import QueryError
from hubstats.export import COUNT_COLUMNS, StatisticsQuery, query_counts, render
from hubstats.migrations import LATEST_VERSION
from hubstats.store import StatisticsStore
from meldingshub.cli import main
from tests.support.events import known_scenario

YEAR = StatisticsQuery(date(2024, 1, 1), date(2024, 12, 31), "year", ("family",))

PUBLISHED_COLUMNS = [
    "routed",
    "routed_copies",
    "rejected",
    "duplicates",
    "delivered",
    "delivery_failed",
    "delivery_retried",
    "apprec_ok",
    "apprec_rejected",
    "apprec_ok_error_in_part",
    "apprec_unknown",
    "accepted",
]
"""The documented column names (hubstats/README.md); monitor jobs depend on them."""


@pytest.fixture
def filled(store: StatisticsStore) -> StatisticsStore:
    store.apply(known_scenario().events)
    return store


def test_count_columns_are_the_published_ones() -> None:
    assert list(COUNT_COLUMNS) == PUBLISHED_COLUMNS
    readme = (Path(__file__).parents[2] / "hubstats" / "README.md").read_text(encoding="utf-8")
    for column in ["period", *PUBLISHED_COLUMNS]:
        assert f"`{column}`" in readme, f"column {column} is not documented"


def test_export_per_family_equals_the_scenario(filled: StatisticsStore) -> None:
    scenario = known_scenario()
    rows = query_counts(filled, YEAR)
    by_family = {row["family"]: row for row in rows}
    assert {row["period"] for row in rows} == {"2024"}
    for (family, outcome), expected in scenario.outcomes.items():
        column = {"routed_copy": "routed_copies", "duplicate": "duplicates"}.get(outcome, outcome)
        assert by_family[family][column] == expected, (family, outcome)
    # a re-send is reported in its own column and not counted as a message sent again
    assert (by_family["dialog"]["routed"], by_family["dialog"]["duplicates"]) == (5, 1)


def test_granularity_and_grouping(filled: StatisticsStore) -> None:
    days = query_counts(filled, StatisticsQuery(date(2024, 3, 1), date(2024, 3, 31), "day"))
    assert [row["period"] for row in days] == ["2024-03-14"]
    month = query_counts(
        filled,
        StatisticsQuery(
            date(2024, 3, 1),
            date(2024, 3, 31),
            "month",
            ("sender_category", "receiver_category"),
            {"family": ("plo", "dialog")},
        ),
    )
    pairs = {(r["sender_category"], r["receiver_category"]): r["routed"] for r in month}
    assert pairs == {
        ("helseforetak", "kommune"): 6,
        ("kommune", "fastlege"): 4,
        ("kommune", "kommune"): 0,  # the copies: routed_copies, not routed
        ("fastlege", "kommune"): 1,
        ("kommune", "helseforetak"): 2,
    }
    empty = query_counts(filled, StatisticsQuery(date(2023, 1, 1), date(2023, 12, 31)))
    assert empty == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"group_by": ("sender_her_id",)}, "not a statistics dimension"),
        ({"filters": {"payload": ("x",)}}, "not a statistics dimension"),
        ({"granularity": "week"}, "granularity"),
        ({"group_by": ("family", "family")}, "twice"),
    ],
)
def test_invalid_queries_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        StatisticsQuery(date(2024, 1, 1), date(2024, 1, 31), **kwargs)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="before"):
        StatisticsQuery(date(2024, 2, 1), date(2024, 1, 31))


def test_csv_and_json_carry_the_same_rows(filled: StatisticsStore) -> None:
    rows = query_counts(filled, YEAR)
    text = render(rows, YEAR, "csv", "Europe/Oslo")
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(["period", "family", *PUBLISHED_COLUMNS])
    assert [{k: str(v) for k, v in row.items()} for row in rows] == parsed
    document = json.loads(render(rows, YEAR, "json", "Europe/Oslo"))
    assert document["rows"] == rows
    assert (document["granularity"], document["timezone"]) == ("year", "Europe/Oslo")


def test_http_api_answers_like_the_export(filled: StatisticsStore) -> None:
    app = FastAPI()
    app.include_router(statistics_router(filled))
    client = TestClient(app)
    params = {"from": "2024-01-01", "to": "2024-12-31", "granularity": "year", "group_by": "family"}
    answer = client.get("/v1/statistics", params=params)
    assert answer.status_code == 200
    assert answer.json()["rows"] == query_counts(filled, YEAR)
    as_csv = client.get("/v1/statistics", params={**params, "format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text == render(query_counts(filled, YEAR), YEAR, "csv", "Europe/Oslo")
    filtered = client.get(
        "/v1/statistics", params={**params, "group_by": "family,message_type", "family": "eresept"}
    )
    assert {(r["message_type"], r["routed"]) for r in filtered.json()["rows"]} == {
        ("ERM1", 4),
        ("ERM10", 3),
    }
    bad = client.get("/v1/statistics", params={**params, "group_by": "principal"})
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    assert "principal" in bad.json()["detail"]


def test_cli_export_writes_csv(filled: StatisticsStore, tmp_path: Path) -> None:
    out = tmp_path / "stats.csv"
    args = "stats export --from 2024-01-01 --to 2024-12-31 --granularity year --group-by family"
    result = CliRunner().invoke(
        main,
        [*args.split(), "--format", "csv", "-o", str(out)],
        env={"MELDINGSHUB_STORE__DSN": filled.engine.url.render_as_string(hide_password=False)},
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == render(
        query_counts(filled, YEAR), YEAR, "csv", "Europe/Oslo"
    )


def test_cli_export_rejects_an_unknown_dimension(filled: StatisticsStore) -> None:
    result = CliRunner().invoke(
        main,
        ["stats", "export", "--from", "2024-01-01", "--to", "2024-12-31", "--group-by", "her_id"],
        env={"MELDINGSHUB_STORE__DSN": filled.engine.url.render_as_string(hide_password=False)},
    )
    assert result.exit_code == 1
    assert "not a statistics dimension" in result.output


def test_cli_migrate_creates_the_store(tmp_path: Path) -> None:
    path = tmp_path / "new" / "stats.sqlite3"
    result = CliRunner().invoke(
        main, ["stats", "migrate"], env={"MELDINGSHUB_STORE__DSN": f"sqlite:///{path}"}
    )
    assert result.exit_code == 0, result.output
    assert f"{LATEST_VERSION} migration(s) applied" in result.output
    again = CliRunner().invoke(
        main, ["stats", "migrate"], env={"MELDINGSHUB_STORE__DSN": f"sqlite:///{path}"}
    )
    assert "0 migration(s) applied" in again.output
