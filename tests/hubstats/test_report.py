"""The e-helsemonitor report: indicators from a known scenario, CSV, PNG charts and the CLI."""

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubstats.charts import draw_report
from hubstats.report import Report, build_report, report_csv
from hubstats.store import StatisticsStore
from meldingshub.cli import main
from tests.support.events import known_scenario

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def report(store: StatisticsStore) -> Report:
    store.apply(known_scenario().events)
    return build_report(store, 2024, 3)


def figures(report: Report) -> dict[tuple[str, str, str], float | None]:
    return {
        (indicator.key, value.series, value.label): value.value
        for indicator in report.indicators
        for value in indicator.values
    }


def test_indicators_of_the_known_scenario(report: Report) -> None:
    f = figures(report)
    assert report.period == "2024-03"
    # plo 8 + dialog 5 + basis 2 + eresept 7; the rejected "other" message is not sent
    assert f[("medical_messages_total", "messages", "total")] == 22
    assert f[("messages_per_family", "messages", "dialog")] == 5  # copies and re-send excluded
    pairs = {label: v for (k, _s, label), v in f.items() if k == "plo_dialog_per_category_pair"}
    assert pairs == {
        "helseforetak → kommune": 6,
        "kommune → fastlege": 4,
        "fastlege → kommune": 1,
        "kommune → helseforetak": 2,
        "øvrige": 0,
    }
    assert f[("service_addressing_share", "service addressed", "helseforetak → kommune")] == 100
    assert f[("service_addressing_share", "service addressed", "kommune → fastlege")] == 0
    assert f[("service_addressing_share", "service addressed", "øvrige")] is None
    assert f[("eresept_per_month", "prescribed (ERM1)", "2024-03")] == 4
    assert f[("eresept_per_month", "dispensed (ERM10)", "2024-03")] == 3
    assert f[("eresept_specialist_share", "specialist care", "share of ERM1")] == 25
    assert f[("unique_prescribers_100_days", "organisations", "2024-03-31")] == 3
    assert f[("apprec_rejection_rate", "rejected", "basis")] == 50  # 2 of 4 rejected
    assert f[("apprec_rejection_rate", "rejected", "receivers' AppRecs")] == 12.5  # 1 of 8


def test_a_year_report_covers_twelve_months(store: StatisticsStore) -> None:
    store.apply(known_scenario().events)
    year = build_report(store, 2024)
    months = [v.label for i in year.indicators if i.key == "eresept_per_month" for v in i.values]
    assert months[:12] == [f"2024-{m:02d}" for m in range(1, 13)]
    # the prescribers window ends on 31 December: the March prescriptions are outside it
    assert figures(year)[("unique_prescribers_100_days", "organisations", "2024-12-31")] == 0


def test_csv_has_one_line_per_figure(report: Report) -> None:
    lines = list(csv.reader(io.StringIO(report_csv(report))))
    assert lines[0] == ["period", "indicator", "series", "label", "value", "unit"]
    assert len(lines) - 1 == sum(len(i.values) for i in report.indicators)
    assert ["2024-03", "medical_messages_total", "messages", "total", "22", "messages"] in lines


def test_one_png_per_indicator(report: Report, tmp_path: Path) -> None:
    paths = draw_report(report, tmp_path / "charts")
    assert sorted(p.name for p in paths) == sorted(f"{i.key}.png" for i in report.indicators)
    for path in paths:
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5_000, path.name


def test_cli_prints_and_writes_csv_and_charts(store: StatisticsStore, tmp_path: Path) -> None:
    store.apply(known_scenario().events)
    csv_path, png_dir = tmp_path / "report.csv", tmp_path / "png"
    result = CliRunner().invoke(
        main,
        [
            "monitor",
            "report",
            "--year",
            "2024",
            "--month",
            "3",
            "--csv",
            str(csv_path),
            "--png-dir",
            str(png_dir),
        ],
        env={
            "MELDINGSHUB_STORE__DSN": store.engine.url.render_as_string(hide_password=False),
            "COLUMNS": "120",
        },
    )
    assert result.exit_code == 0, result.output
    assert "helseforetak → kommune" in result.output
    assert csv_path.read_text(encoding="utf-8") == report_csv(build_report(store, 2024, 3))
    assert len(list(png_dir.glob("*.png"))) == 8
