"""The mix reproduces the e-helsemonitor figures of 2019; a generated year follows its plan."""

from collections import Counter

import pytest

from addressregister.index import RegisterIndex
from meldingshub.simulator.mix import NATIONAL_2019, REFERENCE_2019
from meldingshub.simulator.traffic import Traffic, year_plan
from meldingshub.simulator.truth import Truth
from schemas.vocabulary import Category, Family

MEDICAL = {Family.BASIS, Family.PLO, Family.DIALOG, Family.ERESEPT, Family.OTHER}

Key = tuple[str, str, str, str, int]
"""family, message type, sender category, receiver category, month."""


def planned(scale: int) -> Counter[Key]:
    counts: Counter[Key] = Counter()
    for flow, months in zip(NATIONAL_2019.flows, year_plan(NATIONAL_2019, scale), strict=True):
        for month, per_type in enumerate(months, start=1):
            for (message_type, _), n in zip(flow.types, per_type, strict=True):
                key = (
                    flow.family.value,
                    message_type,
                    flow.sender.value,
                    flow.receiver.value,
                    month,
                )
                counts[key] += n
    return counts


def indicators(counts: Counter[Key]) -> dict[str, float]:
    """The monitor report's indicators (counts of messages sent) from planned counts."""
    figures: Counter[str] = Counter()
    for (family, message_type, sender, receiver, month), n in counts.items():
        figures["medical_messages_total"] += n
        figures[f"family.{family}"] += n
        if family in ("plo", "dialog"):
            figures[f"pair.{sender}.{receiver}"] += n
        if message_type in ("ERM1", "ERM10"):
            figures[f"{message_type}.{month}"] += n
            if message_type == "ERM1" and sender == "helseforetak":
                figures["ERM1.specialist"] += n
    result = {k: float(v) for k, v in figures.items()}
    result["specialist_share"] = (
        100 * figures["ERM1.specialist"] / sum(figures[f"ERM1.{m}"] for m in range(1, 13))
    )
    return result


def reference() -> dict[str, float]:
    figures = {"medical_messages_total": float(REFERENCE_2019.medical_total)}
    for family, total in REFERENCE_2019.families.items():
        figures[f"family.{family.value}"] = float(total)
    for (sender, receiver), total in REFERENCE_2019.pairs.items():
        figures[f"pair.{sender.value}.{receiver.value}"] = float(total)
    for code, months in REFERENCE_2019.eresept_monthly.items():
        for month, total in enumerate(months, start=1):
            figures[f"{code}.{month}"] = float(total)
    figures["specialist_share"] = REFERENCE_2019.specialist_share
    return figures


def test_the_reference_figures_are_the_published_ones() -> None:
    assert REFERENCE_2019.medical_total == 211_500_000
    assert sum(REFERENCE_2019.families.values()) == 211_500_000
    assert REFERENCE_2019.families[Family.BASIS] == 39_000_000
    assert REFERENCE_2019.pairs[(Category.KOMMUNE, Category.HELSEFORETAK)] == 647_000
    assert REFERENCE_2019.eresept_monthly["ERM1"][11] == 2_300_000
    assert REFERENCE_2019.eresept_monthly["ERM10"][11] == 4_500_000


def test_a_year_at_1_to_1000_times_1000_is_within_1_percent_of_every_indicator() -> None:
    scale = 1000
    plan = indicators(planned(scale))
    for key, published in reference().items():
        if key == "specialist_share":
            assert plan[key] == pytest.approx(published, abs=0.5)
            continue
        assert plan.get(key, 0.0) * scale == pytest.approx(published, rel=0.01), key


def test_the_truth_of_a_generated_year_follows_the_plan(register: RegisterIndex) -> None:
    scale = 50_000
    traffic = Traffic(register, NATIONAL_2019, seed=7, fault_rate=0.02)
    truth = Truth("Europe/Oslo", "kafka")
    truth.record_all(traffic.year(2019, scale))
    routed: Counter[Key] = Counter()
    for (day, dims), counts in truth.cells.items():
        if counts["routed"] and dims.family != "apprec":
            key = (dims.family, dims.message_type, dims.sender_category, dims.receiver_category)
            routed[(*key, day.month)] += counts["routed"]
    expected = +planned(scale)
    assert routed == expected
    assert all(day.year == 2019 for day, dims in truth.cells if dims.family != "apprec")
    assert {Family(family) for family, *_ in routed} == MEDICAL
