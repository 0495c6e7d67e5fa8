"""Done-when of issue #22: a simulated year in a statistics store, reported by ``meldingshub
monitor report --year 2019 --scale 1:N``, shows the other messages per national body and
reproduces the published total of 211.5 M within 1 %."""

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from access.principals import Principals
from addressregister.index import RegisterIndex
from hubstats.store import StatisticsStore
from meldingshub.cli import main
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Traffic
from schemas.reader import MessageReader
from tests.meldingshub.simulator.conftest import route

SCALE = 50_000
BODIES = ("nav", "helfo", "fhi", "npr", "kreftregisteret")
"""The national bodies the 2019 mix sends other messages to."""


def test_the_report_of_a_simulated_year_reproduces_the_published_total(
    register: RegisterIndex, principals: Principals, reader: MessageReader, tmp_path: Path
) -> None:
    traffic = Traffic(register, NATIONAL_2019, seed=22, fault_rate=0.0, principals=principals)
    routed = route(traffic.year(2019, SCALE), register, principals, reader)
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    try:
        store.apply([event for result in routed for event in result.events])
        dsn = store.engine.url.render_as_string(hide_password=False)
    finally:
        store.close()
    csv_path = tmp_path / "report.csv"
    result = CliRunner().invoke(
        main,
        ["monitor", "report", "--year", "2019", "--scale", f"1:{SCALE}", "--csv", str(csv_path)],
        env={"MELDINGSHUB_STORE__DSN": dsn, "COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    rows = {
        (row["indicator"], row["label"]): row
        for row in csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8")))
    }
    total = rows[("medical_messages_total", "total")]
    assert (total["scale"], total["published"]) == (f"1:{SCALE}", "211500000")
    assert int(total["scaled"]) == int(total["value"]) * SCALE
    assert abs(int(total["scaled"]) - 211_500_000) <= 0.01 * 211_500_000, total
    assert abs(float(total["ratio"]) - 1.0) <= 0.01
    other = {
        label: int(row["value"])
        for (indicator, label), row in rows.items()
        if indicator == "other_per_receiver_category"
    }
    assert all(other[body] > 0 for body in BODIES), other
    assert sum(other.values()) == int(rows[("messages_per_family", "other")]["value"])
    assert "Other medical messages per national body" in result.output
    assert all(body in result.output for body in BODIES)
