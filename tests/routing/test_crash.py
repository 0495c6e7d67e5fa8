"""Exactly once across crashes: two router processes, one SIGKILLed mid-stream and restarted."""

import random
import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, TopicPartition

from access.principals import Principals
from kafka_io.transactional import DEFAULT_BATCH_SIZE
from meldingshub.settings import Settings
from routing.outputs import OutputBuilder
from routing.pipeline import decide
from schemas.reader import MessageReader
from schemas.records import InboundMessage, MessageEvent, RoutedMessage, decode
from schemas.vocabulary import EventType, Family
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub import isolated_settings, send_inbound

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = 20_000
KILLS = 3
"""At most; fewer when the surviving router gets through the stream first."""
PRINCIPALS = 8
_MSG_ID = re.compile(rb"<MsgId>[^<]*</MsgId>")


class TopicCollector:
    """Reads a topic with read_committed in the background, from the start, into a list."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.records: list[bytes] = []
        self._stop = threading.Event()
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "collector",
                "isolation.level": "read_committed",
            }
        )
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for message in self._consumer.consume(1000, 0.2):
                if message.error() is None:
                    self.records.append(message.value() or b"")

    def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.records) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.records) >= count, (
            f"{len(self.records)} of {count} within {timeout_s} s; the routers said:\n"
            + _router_logs()[-6000:]
        )

    def settle(self, quiet_s: float = 3.0) -> None:
        """Keep reading until nothing new arrived for ``quiet_s`` (extra records would show)."""
        last, since = len(self.records), time.monotonic()
        while time.monotonic() - since < quiet_s:
            time.sleep(0.1)
            if len(self.records) != last:
                last, since = len(self.records), time.monotonic()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


LOGS: list[str] = []


def _router_logs() -> str:
    """What the router processes logged, less the line per message."""
    return "\n".join(line for line in LOGS if "routed" not in line and "rejected" not in line)


def _assert_repeats_are_identical(records: list[RoutedMessage]) -> None:
    """Every copy of a routed message carries the same content (only the routing time differs)."""
    first: dict[tuple[uuid.UUID, int], RoutedMessage] = {}
    for record in records:
        key = (record.hub_message_id, record.receiver_her_id)
        original = first.setdefault(key, record)
        assert replace(record, routed_at=original.routed_at) == original, key


def _drain(process: subprocess.Popen[str], instance: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        LOGS.append(f"{instance}: {line.rstrip()}")


@contextmanager
def router_process(settings: Settings, instance: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.router_process",
            settings.model_dump_json(),
            instance,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "router ready":
                break
            LOGS.append(f"{instance}: {line.rstrip()}")
        else:
            raise AssertionError(f"router {instance} did not start:\n" + "\n".join(LOGS[-20:]))
        threading.Thread(target=_drain, args=(process, instance), daemon=True).start()
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(30)


def test_sigkill_of_one_of_two_routers_neither_loses_nor_duplicates(
    kafka_bootstrap: str, broker_hides_aborted: bool
) -> None:
    reader = MessageReader(Settings().schemas)
    samples = [
        s
        for s in consistent(accepted_samples(reader))
        if s.envelope.family is not Family.APPREC and len(s.raw) < 200_000 and _MSG_ID.search(s.raw)
    ]
    register = register_for(samples)
    settings = isolated_settings(kafka_bootstrap, partitions=4)
    documents = [
        _MSG_ID.sub(
            f"<MsgId>{uuid.uuid4()}</MsgId>".encode(), samples[i % len(samples)].raw, count=1
        )
        for i in range(MESSAGES)
    ]
    builder = OutputBuilder(settings.routing, Principals.open())
    now = datetime.now(UTC)
    sent: list[tuple[bytes, InboundMessage]] = []
    for p in range(PRINCIPALS):
        batch = documents[p::PRINCIPALS]
        metas = send_inbound(kafka_bootstrap, settings.kafka.topics.inbound.name, batch, f"epj-{p}")
        sent.extend(zip(batch, metas, strict=True))
    expected: Counter[tuple[str, int]] = Counter()
    expected_events: set[uuid.UUID] = set()
    outcomes = 0
    for raw, meta in sent:
        decision = decide(reader.read(raw), meta, register, Principals.open(), lambda _k: None, now)
        out = builder.build(decision, meta, raw, register, now)
        outcomes += len(out.events)
        expected_events.update(e.event_id for e in out.events)
        for routed in out.routed:
            expected[(str(routed.hub_message_id), routed.receiver_her_id)] += 1
    total = sum(expected.values())
    assert total >= MESSAGES * 0.9

    jitter, kills = random.Random(MESSAGES), 0
    seen_at_kills: list[int] = []
    """Routed records the collector had seen at each kill (it trails the routers)."""
    outbound = TopicCollector(kafka_bootstrap, settings.kafka.topics.outbound.name, 4)
    events = TopicCollector(kafka_bootstrap, settings.kafka.topics.events.name, 4)
    try:
        with router_process(settings, "b"):
            while kills < KILLS and len(outbound.records) < total // 2:
                with router_process(settings, "a") as victim:
                    outbound.wait_for(len(outbound.records) + total // 10, timeout_s=120)
                    # A commit was just seen, so the router is likely computing its next
                    # batch; a random pause spreads kills over every phase, commits included.
                    time.sleep(jitter.uniform(0.0, 0.4))
                    seen_at_kills.append(len(outbound.records))
                    victim.kill()
                    victim.wait()
                    kills += 1
            # The first kill is the one that must fall mid-stream; the survivor may well have
            # routed the rest by the time a later victim is killed.
            assert seen_at_kills and seen_at_kills[0] < total, "killed too late to prove anything"
            with router_process(settings, "a"):
                outbound.wait_for(total, timeout_s=240)
                events.wait_for(outcomes, timeout_s=120)
                outbound.settle()
                events.settle()
    finally:
        outbound.close()
        events.close()

    routed_records = [decode(value, RoutedMessage) for value in outbound.records]
    got = Counter((str(r.hub_message_id), r.receiver_her_id) for r in routed_records)
    outcome_events = [decode(value, MessageEvent) for value in events.records]
    logs = _router_logs()
    # Compared as counts, not with ``==``: pytest's diff of two 20,000-key counters takes minutes.
    missing, extra = expected - got, got - expected
    assert not missing, f"{sum(missing.values())} routed messages lost:\n{logs[-6000:]}"
    assert {e.event_id for e in outcome_events} == expected_events
    if broker_hides_aborted:
        assert not extra, f"{sum(extra.values())} repeated, e.g. {list(extra)[:3]}\n{logs[-6000:]}"
        assert len(outcome_events) == outcomes
    else:
        # The broker hands aborted records to read_committed readers (see
        # ``hides_aborted_records``): the killed router's open transaction, aborted when it
        # comes back, shows beside the re-run. Bounded by the transactions a kill and the
        # rebalances around it abort, and the same message each time (see the event ids above).
        repeated = {hub_id for hub_id, _receiver in extra}
        bound = kills * 2 * DEFAULT_BATCH_SIZE
        assert len(repeated) <= bound, f"{len(repeated)} messages repeated"
        _assert_repeats_are_identical(routed_records)
    accepted = Counter(
        e.hub_message_id for e in outcome_events if e.event_type is EventType.ACCEPTED
    )
    assert len(accepted) == MESSAGES
