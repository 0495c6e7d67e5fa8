"""Live metrics: event-driven counts, pre-initialised series, closed label sets, promtool."""

import random
import shutil
import subprocess
import uuid

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from metrics.live import (
    BY_CATEGORY_OUTCOMES,
    MAX_OPEN_MESSAGE_TYPES,
    HubMetrics,
    message_types_of,
)
from schemas.catalogue import default_catalogue
from schemas.records import MessageEvent
from schemas.vocabulary import AddressingMode, AppRecErrorCode, Category, EventType, Family
from tests.support.events import event, known_scenario

SERIES_BOUND = 6_000
"""Upper bound on ``/metrics`` series of one hub process (pre-initialised + national traffic),
``_created`` series included; about half without them (PROMETHEUS_DISABLE_CREATED_SERIES)."""

CATALOGUE = {
    "INNLEGGELSESRAPPORT": Family.PLO,
    "UTSKRIVNINGSRAPPORT": Family.PLO,
    "DIALOG_FORESPORSEL": Family.DIALOG,
    "DIALOG_SVAR": Family.DIALOG,
    "DIALOG_INNBYGGER_*": Family.DIALOG,
    "HENVISNING": Family.BASIS,
    "EPIKRISE": Family.BASIS,
    "SVAR_LAB": Family.BASIS,
    "ERM1": Family.ERESEPT,
    "ERM10": Family.ERESEPT,
    "APPREC": Family.APPREC,
}


def series_count(registry: CollectorRegistry) -> int:
    return sum(len(metric.samples) for metric in registry.collect())


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    assert value is not None, f"series {name}{labels} is missing"
    return value


def test_observed_counts_equal_the_known_scenario() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, CATALOGUE)
    scenario = known_scenario()
    for item in scenario.events:
        metrics.observe(item)

    for (family, outcome), expected in scenario.outcomes.items():
        total = sum(
            sample_.value
            for metric in registry.collect()
            if metric.name == "meldingshub_messages"
            for sample_ in metric.samples
            if sample_.name.endswith("_total")
            and sample_.labels["family"] == family
            and sample_.labels["outcome"] == outcome
        )
        assert total == expected, (family, outcome)
    for (family, sender, receiver, mode, outcome), expected in scenario.pairs.items():
        if outcome not in BY_CATEGORY_OUTCOMES:
            continue
        labels = {
            "family": family,
            "sender_category": sender,
            "receiver_category": receiver,
            "addressing_mode": mode,
            "outcome": outcome,
        }
        assert sample(registry, "meldingshub_messages_by_category_total", **labels) == expected
    for (family, code), expected in scenario.rejections.items():
        assert (
            sample(registry, "meldingshub_rejections_total", family=family, reason_code=code)
            == expected
        )
    accepted = sum(1 for e in scenario.events if e.event_type is EventType.ACCEPTED)
    assert sample(registry, "meldingshub_events_total", event_type="accepted") == accepted
    routed_plo = scenario.outcomes[("plo", "routed")]
    assert (
        sample(registry, "meldingshub_ingress_to_routed_seconds_count", family="plo") == routed_plo
    )
    assert (
        sample(registry, "meldingshub_ingress_to_routed_seconds_bucket", family="plo", le="0.005")
        == routed_plo
    )  # every scenario message is routed 5 ms after ingress
    assert sample(registry, "meldingshub_apprec_round_trip_seconds_count", status="1") == 6
    assert sample(registry, "meldingshub_apprec_round_trip_seconds_sum", status="1") == 6 * 180


def test_dashboards_see_zeros_not_gaps_before_any_traffic() -> None:
    registry = CollectorRegistry()
    HubMetrics(registry, CATALOGUE, consumer_groups=["hub.router"])
    for family in Family:
        for code in AppRecErrorCode:
            assert (
                sample(
                    registry,
                    "meldingshub_rejections_total",
                    family=family.value,
                    reason_code=code.value,
                )
                == 0
            )
    assert (
        sample(
            registry,
            "meldingshub_messages_total",
            family="eresept",
            message_type="ERM1",
            outcome="routed",
        )
        == 0
    )
    assert (
        sample(
            registry,
            "meldingshub_messages_by_category_total",
            family="plo",
            sender_category="helseforetak",
            receiver_category="kommune",
            addressing_mode="service",
            outcome="routed",
        )
        == 0
    )
    assert sample(registry, "meldingshub_consumer_lag_messages", group="hub.router") == 0
    assert sample(registry, "meldingshub_ingress_to_delivered_seconds_count", family="dialog") == 0


def test_label_values_stay_in_closed_sets() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, CATALOGUE)
    for message_type in ("NOT IN THE CATALOGUE", "SYKMELD", "DIALOG_INNBYGGER_EKONTAKT"):
        metrics.observe(event(EventType.ROUTED, uuid.uuid4(), message_type=message_type))
    metrics.observe(event(EventType.REJECTED, uuid.uuid4(), reason_code="free text reason"))
    types = {
        s.labels["message_type"]
        for m in registry.collect()
        if m.name == "meldingshub_messages"
        for s in m.samples
        if s.name.endswith("_total") and s.value
    }
    assert types == {"UNKNOWN", "DIALOG_INNBYGGER_EKONTAKT", "INNLEGGELSESRAPPORT"}
    assert sample(registry, "meldingshub_rejections_total", family="plo", reason_code="X99") == 1


def test_without_a_catalogue_message_types_are_capped() -> None:
    metrics = HubMetrics(CollectorRegistry())
    labels = {metrics.message_type_label(f"TYPE_{n}") for n in range(MAX_OPEN_MESSAGE_TYPES + 50)}
    assert len(labels) == MAX_OPEN_MESSAGE_TYPES + 1
    assert "UNKNOWN" in labels
    assert metrics.message_type_label("lower case text") == "UNKNOWN"


def test_consumer_lag_is_fed_by_its_owner() -> None:
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, consumer_groups=["hub.router"])
    metrics.set_consumer_lag("hub.router", 42)
    assert sample(registry, "meldingshub_consumer_lag_messages", group="hub.router") == 42


def national_traffic(count: int, seed: int = 2019) -> list[MessageEvent]:
    """A seeded national mix: every catalogue type, the category pairs that really exchange
    messages, all addressing modes, and every outcome including rejects by any code."""
    rng = random.Random(seed)
    types = message_types_of(default_catalogue())
    exact = [(code, family) for code, family in types.items() if "*" not in code]
    parties = [c for c in Category if c is not Category.UKJENT]
    pairs = [(a, b) for a in parties for b in parties if a is not b]
    # real traffic: each family flows between a dozen or so category pairs
    family_pairs = {family: rng.sample(pairs, 15) for family in Family}
    kinds = [EventType.ROUTED, EventType.DELIVERED, EventType.REJECTED, EventType.DUPLICATE,
             EventType.DELIVERY_FAILED, EventType.DELIVERY_RETRIED]  # fmt: skip
    events = []
    for _ in range(count):
        code, family = rng.choice(exact)
        sender, receiver = rng.choice(family_pairs[family])
        events.append(
            event(
                rng.choice(kinds),
                uuid.uuid4(),
                family=family,
                message_type=code,
                sender=(1, sender),
                receiver=(2, receiver),
                mode=rng.choice(list(AddressingMode)),
                reason_code=rng.choice(list(AppRecErrorCode)).value,
                is_copy=rng.random() < 0.1,
            )
        )
    return events


def test_cardinality_stays_bounded_under_national_traffic(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Pre-initialised series plus what a varied national mix adds stay under the bound."""
    registry = CollectorRegistry()
    metrics = HubMetrics(
        registry,
        message_types_of(default_catalogue()),
        consumer_groups=["hub.router", "hub.statistics", "hub.delivery"],
    )
    preinitialised = series_count(registry)
    for item in [*known_scenario().events, *national_traffic(20_000)]:
        metrics.observe(item)
    after = series_count(registry)
    with capsys.disabled():
        print(f"\n/metrics series: {preinitialised} pre-initialised, {after} after the national "
              f"simulation (bound {SERIES_BOUND})")  # fmt: skip
    assert preinitialised < after <= SERIES_BOUND


def test_promtool_accepts_the_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus); CI has it")
    registry = CollectorRegistry()
    metrics = HubMetrics(registry, CATALOGUE, consumer_groups=["hub.router"])
    for item in known_scenario().events:
        metrics.observe(item)
    result = subprocess.run(
        [promtool, "check", "metrics"],
        input=generate_latest(registry),
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    assert not result.stdout.strip(), result.stdout.decode()  # lint findings are printed here
