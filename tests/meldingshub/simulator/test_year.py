"""A scaled national year through the real router and aggregator: the export equals the truth.

The year 2019 at 1:20,000 (about 16,000 documents with the receivers' AppRecs
and 2 % faults) is written to ``hub.inbound`` as ingress does; the router is
stopped half-way and a new one takes over (the de-duplication state and offsets
must survive); the aggregator fills a fresh store. ``verify`` must then find no
difference at all.
"""

import uuid
from datetime import date
from pathlib import Path

import pytest

from access.principals import Principals
from addressregister.generator import generate_national_register
from addressregister.index import RegisterIndex
from hubstats.aggregator import StatisticsAggregator
from hubstats.export import StatisticsQuery, query_counts
from hubstats.report import build_report
from hubstats.settings import StatisticsSettings
from hubstats.store import StatisticsStore
from meldingshub.cli.simulate import YEAR_APPREC_DELAY_S
from meldingshub.components.router import RouterComponent
from meldingshub.settings import Settings
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.pacing import send_all
from meldingshub.simulator.senders import KafkaSender
from meldingshub.simulator.traffic import Outgoing, Traffic, principals_for
from meldingshub.simulator.truth import Truth
from meldingshub.simulator.verify import Verification, verify
from schemas.reader import MessageReader
from tests.support.hub import isolated_settings, router_settings
from tests.support.waiting import running, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCALE = 20_000


def accepted(store: StatisticsStore) -> int:
    rows = query_counts(store, StatisticsQuery(date(2019, 1, 1), date(2020, 12, 31), "year"))
    return sum(int(row["accepted"]) for row in rows)


def router(
    settings: Settings, bootstrap: str, index: RegisterIndex, p: Principals
) -> RouterComponent:
    return RouterComponent(
        *router_settings(settings), bootstrap, lambda: index, MessageReader(settings.schemas), p
    )


def test_scaled_year_export_equals_truth_across_a_router_restart(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = isolated_settings(kafka_bootstrap)
    settings.statistics = StatisticsSettings(group_id=f"stats-{uuid.uuid4().hex[:8]}")
    index = RegisterIndex(generate_national_register(2019))
    principals = principals_for(index)
    traffic = Traffic(
        index,
        NATIONAL_2019,
        seed=2019,
        fault_rate=0.02,
        principals=principals,
        apprec_delay_s=YEAR_APPREC_DELAY_S,
    )
    documents: list[Outgoing] = list(traffic.year(2019, SCALE))
    half = len(documents) // 2
    truth = Truth(settings.statistics.timezone, "kafka")
    store = StatisticsStore.open(f"sqlite:///{tmp_path / 'stats.sqlite3'}")
    aggregator = StatisticsAggregator(settings.kafka, kafka_bootstrap, store, settings.statistics)
    with running(aggregator):
        sender = KafkaSender(settings.kafka, kafka_bootstrap)
        with running(router(settings, kafka_bootstrap, index, principals)):
            send_all(documents[:half], sender, truth)
            sender.close()
            wait_for(lambda: accepted(store) >= half, 120, "half of the year routed")
        # The first router has stopped mid-year; a new one takes over its partitions.
        sender = KafkaSender(settings.kafka, kafka_bootstrap)
        with running(router(settings, kafka_bootstrap, index, principals)):
            send_all(documents[half:], sender, truth)
            sender.close()
            result: list[Verification] = []

            def matches() -> bool:
                result[:] = [verify(store, truth)]
                return result[0].ok

            wait_for(lambda: accepted(store) >= len(documents), 120, "the whole year routed")
            wait_for(matches, 30, "the export to equal the truth")
    assert truth.documents == len(documents)
    assert result[0].cells > 1000
    assert truth.kinds["resend"] > 0 and truth.kinds["spoofed_sender"] > 0
    before_restart = {o.raw for o in documents[:half]}
    assert any(
        o.expectation.kind == "resend" and o.raw in before_restart for o in documents[half:]
    ), "a re-send after the restart of a message routed before it"
    report = {i.key: i for i in build_report(store, 2019).indicators}
    total = report["medical_messages_total"].values[0].value
    assert total == pytest.approx(211_500_000 / SCALE, abs=12)
    store.close()
