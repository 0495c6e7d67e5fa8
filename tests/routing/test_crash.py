"""Exactly once across a crash: two router processes, one SIGKILLed mid-stream and restarted."""

import re
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from confluent_kafka import Consumer, TopicPartition

from meldingshub.settings import Settings
from routing.outputs import OutputBuilder
from routing.pipeline import decide
from routing.principals import Principals
from schemas.reader import MessageReader
from schemas.records import MessageEvent, RoutedMessage, decode
from schemas.vocabulary import EventType, Family
from tests.support.corpus_register import accepted_samples, consistent, register_for
from tests.support.hub import isolated_settings, send_inbound

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MESSAGES = 20_000
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
        assert len(self.records) >= count, f"{len(self.records)} of {count} within {timeout_s} s"

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


def test_sigkill_of_one_of_two_routers_neither_loses_nor_duplicates(kafka_bootstrap: str) -> None:
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
    builder = OutputBuilder(settings.routing, Principals())
    now = datetime.now(UTC)
    sent = []
    for p in range(PRINCIPALS):
        batch = documents[p::PRINCIPALS]
        metas = send_inbound(kafka_bootstrap, settings.kafka.topics.inbound.name, batch, f"epj-{p}")
        sent.extend(zip(batch, metas, strict=True))
    expected: Counter[tuple[str, int]] = Counter()
    outcomes = 0
    for raw, meta in sent:
        decision = decide(reader.read(raw), meta, register, Principals(), lambda _k: None, now)
        out = builder.build(decision, meta, raw, register, now)
        outcomes += len(out.events)
        for routed in out.routed:
            expected[(str(routed.hub_message_id), routed.receiver_her_id)] += 1
    total = sum(expected.values())
    assert total >= MESSAGES * 0.9

    outbound = TopicCollector(kafka_bootstrap, settings.kafka.topics.outbound.name, 4)
    events = TopicCollector(kafka_bootstrap, settings.kafka.topics.events.name, 4)
    try:
        with router_process(settings, "a") as first, router_process(settings, "b"):
            outbound.wait_for(total // 3, timeout_s=120)
            first.kill()
            first.wait()
            assert len(outbound.records) < total, "killed too late to prove anything"
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
    assert got == expected, (
        "hub.outbound must hold every routable message exactly once:\n"
        + "\n".join(line for line in LOGS if "routed" not in line and "rejected" not in line)[
            -6000:
        ]
    )
    outcome_events = [decode(value, MessageEvent) for value in events.records]
    assert len(outcome_events) == outcomes
    assert len({e.event_id for e in outcome_events}) == outcomes
    accepted = Counter(
        e.hub_message_id for e in outcome_events if e.event_type is EventType.ACCEPTED
    )
    assert len(accepted) == MESSAGES and set(accepted.values()) == {1}
