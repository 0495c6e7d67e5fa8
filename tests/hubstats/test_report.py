"""The e-helsemonitor report: indicators from a known scenario, CSV, PNG charts and the CLI."""

import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubstats.charts import draw_report, is_time_series, scale_note
from hubstats.published import PUBLISHED
from hubstats.report import CSV_COLUMNS, FROM_A_BODY, Report, build_report, report_csv
from hubstats.store import StatisticsStore
from meldingshub.cli import main
from schemas.records import MessageEvent
from schemas.vocabulary import Category, EventType, Family
from tests.support.events import event, known_scenario

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
    assert lines[0] == list(CSV_COLUMNS)
    assert lines[0][:6] == ["period", "indicator", "series", "label", "value", "unit"]
    assert len(lines) - 1 == sum(len(i.values) for i in report.indicators)
    total = ["2024-03", "medical_messages_total", "messages", "total", "22", "messages"]
    assert [*total, "1:1", "22", "", ""] in lines


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
    assert len(list(png_dir.glob("*.png"))) == len(build_report(store, 2024, 3).indicators)


def routed(
    sender: tuple[int, Category], receiver: tuple[int, Category], at: datetime, n: int = 1
) -> list[MessageEvent]:
    """``n`` routed messages of family ``other``."""
    return [
        event(EventType.ROUTED, uuid.uuid4(), family=Family.OTHER, message_type="X",
              sender=sender, receiver=receiver, at=at)
        for _ in range(n)
    ]  # fmt: skip


def test_other_messages_per_national_body_add_up_to_the_family(store: StatisticsStore) -> None:
    at = datetime(2019, 6, 12, 9, 0, tzinfo=UTC)
    fastlege, hf, kommune = (
        (10, Category.FASTLEGE),
        (11, Category.HELSEFORETAK),
        (12, Category.KOMMUNE),
    )
    store.apply(
        [
            *routed(fastlege, (1, Category.HELFO), at, 4),
            *routed(fastlege, (2, Category.NAV), at, 3),
            *routed(hf, (3, Category.NPR), at, 2),
            *routed(hf, (4, Category.KREFTREGISTERET), at),
            *routed((2, Category.NAV), fastlege, at, 2),  # sent by a body
            *routed(kommune, kommune, at, 5),  # not with a national body: not medical
        ]
    )
    report = build_report(store, 2019)
    f = figures(report)
    bodies = {label: v for (k, _s, label), v in f.items() if k == "other_per_receiver_category"}
    assert bodies == {
        "nav": 3, "helfo": 4, "fhi": 0, "helsedirektoratet": 0, "skatteetaten": 0,
        "kreftregisteret": 1, "npr": 2, FROM_A_BODY: 2,
    }  # fmt: skip
    other = f[("messages_per_family", "messages", "other")]
    assert sum(v or 0 for v in bodies.values()) == other == 12
    assert f[("medical_messages_per_month", "messages", "2019-06")] == 12
    assert f[("medical_messages_per_month", "messages", "2019-05")] == 0


def test_a_scaled_report_sets_its_figures_beside_the_published_ones(
    store: StatisticsStore,
) -> None:
    at = datetime(2019, 12, 3, 9, 0, tzinfo=UTC)
    store.apply(routed((10, Category.FASTLEGE), (1, Category.HELFO), at, 2115))
    report = build_report(store, 2019, scale=100_000)
    total = next(i for i in report.indicators if i.key == "medical_messages_total")
    compared = report.comparison(total, total.values[0])
    assert (compared.counted, compared.scaled) == (2115, 211_500_000)
    assert compared.published == 211_500_000 and compared.ratio == 1.0
    helfo = report.compared[("other_per_receiver_category", "messages", "helfo")]
    assert helfo.scaled == 211_500_000 and helfo.published is None and helfo.ratio is None
    december = report.compared[("eresept_per_month", "prescribed (ERM1)", "2019-12")]
    assert december.published == 2_300_000 and december.ratio == 0.0
    share = report.compared[("eresept_specialist_share", "specialist care", "share of ERM1")]
    assert share.scaled is None and share.published == 12.5  # a share is never scaled
    # a month's report holds December's published figures, not the year's
    month = build_report(store, 2019, 12, scale=100_000)
    assert month.compared[("eresept_per_month", "dispensed (ERM10)", "2019-12")].published
    assert month.compared[("medical_messages_total", "messages", "total")].published is None


def test_every_published_figure_names_a_value_the_report_has(store: StatisticsStore) -> None:
    for item in PUBLISHED:
        year, month = int(item.period[:4]), item.period[5:]
        report = build_report(store, year, int(month) if month else None)
        assert (item.indicator, item.series, item.label) in report.compared, item
        assert report.compared[(item.indicator, item.series, item.label)].published == item.value


def test_series_over_time_are_lines_and_every_chart_names_unit_and_scale(
    store: StatisticsStore,
) -> None:
    report = build_report(store, 2019, scale=1000)
    kinds = {i.key: is_time_series(i) for i in report.indicators}
    assert kinds["eresept_per_month"] and kinds["medical_messages_per_month"]
    assert not kinds["other_per_receiver_category"] and not kinds["medical_messages_total"]
    for indicator in report.indicators:
        note = scale_note(report, indicator)
        assert f"unit: {indicator.unit}" in note and "scale 1:1000" in note
    assert "drawn × 1 000" in scale_note(report, report.indicators[0])


def test_cli_report_at_a_scale_shows_published_figures_and_ratio(
    store: StatisticsStore,
) -> None:
    at = datetime(2019, 3, 5, 9, 0, tzinfo=UTC)
    store.apply(routed((10, Category.FASTLEGE), (1, Category.HELFO), at, 2115))
    result = CliRunner().invoke(
        main,
        ["monitor", "report", "--year", "2019", "--scale", "1:100000"],
        env={
            "MELDINGSHUB_STORE__DSN": store.engine.url.render_as_string(hide_password=False),
            "COLUMNS": "160",
        },
    )
    assert result.exit_code == 0, result.output
    assert "211 500 000" in result.output and "1.000" in result.output
    assert "helfo" in result.output and "kreftregisteret" in result.output
    bad = CliRunner().invoke(main, ["monitor", "report", "--year", "2019", "--scale", "1:0"])
    assert bad.exit_code == 2 and "1:N" in bad.output
