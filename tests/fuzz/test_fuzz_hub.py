"""Fuzzing a running hub through every ingress: it stays up and accounts for every input.

Mutations of every corpus document (tests/fuzz/mutations.py) and hypothesis-drawn
inputs go in through HTTP, AMQP, the file catalogue, the Kafka ingress topic and as
raw ``hub.inbound`` records, with odd transport headers. Afterwards: the hub runs,
no component restarted, ``/readyz`` answers 200; every HTTP request got 202 or a
4xx problem; every AMQP delivery, file and Kafka record was accepted or refused
with a reason (the ingress metrics add up, files are in ``done/`` or ``failed/``);
every record on ``hub.inbound`` has its event (routed, rejected with a code, or a
duplicate); and the process grew by less than 500 MB meanwhile.

``make test`` runs a short sample; ``make fuzz`` (``MELDINGSHUB_FUZZ=long``) runs
every mutation of every document through every ingress and many more hypothesis
examples. ``MELDINGSHUB_FUZZ_SEED`` picks another sample.
"""

import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import NAMESPACE_URL, UUID, uuid5

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from addressregister.index import RegisterIndex
from kafka_io import headers_of
from schemas.avro_errors import AvroDecodeError
from schemas.records import INBOUND_HEADER, InboundMessage, MessageEvent, decode
from schemas.vocabulary import EventType
from tests.broker_adapters.ingress.support import (
    with_new_msg_id,
)
from tests.fuzz.mutations import MUTATIONS, ODD_HEADER_VALUES
from tests.support.corpus_register import Sample
from tests.support.kafka import ProducedHeaders
from tests.support.running_hub import (
    KAFKA_PRINCIPAL,
    PRINCIPAL,
    HubProcess,
    RunningHub,
    hub_process,
)
from tests.support.waiting import wait_for

LONG = os.environ.get("MELDINGSHUB_FUZZ", "short") == "long"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(4 * 3600 if LONG else 300),
]

SEED = int(os.environ.get("MELDINGSHUB_FUZZ_SEED", "15"))
"""Chooses the documents of the short run and drives the mutations; vary it to explore."""
SHORT_DOCUMENTS = 12
"""Corpus documents mutated in the short run (every one in the long run)."""
HYPOTHESIS_EXAMPLES = 300 if LONG else 8
MEMORY_LIMIT_BYTES = 500 * 1024 * 1024
ANSWERS = {202, 400, 401, 403, 413, 415}
"""What HTTP may answer a fuzzed submission (503 would mean the hub could not write)."""
INGRESSES = ("http", "amqp", "file", "kafka", "inbound")
ADAPTERS = ("http", "amqp", "file", "kafka")


@dataclass(frozen=True)
class Input:
    """One fuzzed input: where it goes, the bytes, and an odd transport header (or none)."""

    ingress: str
    raw: bytes
    header: object = None

    def __repr__(self) -> str:
        """Short, for hypothesis's report of a failing example."""
        head = self.raw[:60]
        return f"Input({self.ingress!r}, {len(self.raw)} bytes {head!r}..., {self.header!r})"


# -- the router's accounting: every inbound record has an event -------------------------------


class Follower:
    """Reads a topic from the start, a little more at each call (no record read twice)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "fuzz-reader",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.max.bytes": 60_000_000,
            }
        )
        metadata = self._consumer.list_topics(topic, timeout=10)
        self._consumer.assign(
            [TopicPartition(topic, p, 0) for p in metadata.topics[topic].partitions]
        )

    def read(self) -> list[Message]:
        """What arrived since the last call."""
        found: list[Message] = []
        while True:
            batch = self._consumer.consume(500, 0.1)
            found.extend(m for m in batch if m.error() is None)
            if not batch:
                return found

    def close(self) -> None:
        self._consumer.close()


def hub_id(record: Message) -> UUID:
    """The id the router gives an inbound record: its metadata's, or one from its position."""
    header = dict(headers_of(record)).get(INBOUND_HEADER)
    if header is not None:
        try:
            return decode(header, InboundMessage).hub_message_id
        except AvroDecodeError:
            pass
    return uuid5(NAMESPACE_URL, f"kafka:{record.topic()}/{record.partition()}/{record.offset()}")


@dataclass
class Accounts:
    """Ids on ``hub.inbound`` and ids with an outcome on ``hub.events``, followed as they come.

    An outcome is routed (a message or an AppRec), a duplicate, or rejected with a code.
    """

    inbound: Follower
    events: Follower
    wanted: set[UUID] = field(default_factory=set)
    seen: set[UUID] = field(default_factory=set)
    uncoded: set[UUID] = field(default_factory=set)

    def settled(self) -> bool:
        self.wanted |= {hub_id(r) for r in self.inbound.read()}
        for record in self.events.read():
            event = decode(record.value() or b"", MessageEvent)
            if event.event_type in OUTCOMES:
                self.seen.add(event.hub_message_id)
            if event.event_type is EventType.REJECTED and not event.reason_code:
                self.uncoded.add(event.hub_message_id)
        assert not self.uncoded, "a message was rejected without a code"
        return self.wanted <= self.seen


OUTCOMES = frozenset(
    {EventType.ROUTED, EventType.APPREC_ROUTED, EventType.DUPLICATE, EventType.REJECTED}
)


@pytest.fixture(scope="module")
def hub(
    kafka_bootstrap: str, register: RegisterIndex, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HubProcess]:
    with hub_process(kafka_bootstrap, tmp_path_factory.mktemp("fuzz"), register) as running:
        yield running


@pytest.fixture(scope="module")
def accounts(hub: RunningHub) -> Iterator[Accounts]:
    topics = hub.settings.kafka.topics
    inbound = Follower(hub.bootstrap, topics.inbound.name)
    events = Follower(hub.bootstrap, topics.events.name)
    yield Accounts(inbound, events)
    inbound.close()
    events.close()


@pytest.fixture(scope="module")
def memory(hub: HubProcess) -> int:
    """The hub's resident memory once ready: the baseline of its growth."""
    return hub.memory()[0]


def assert_memory_bounded(hub: HubProcess, baseline: int) -> None:
    grown = hub.memory()[1] - baseline
    assert grown < MEMORY_LIMIT_BYTES, f"the hub's memory grew by {grown / 2**20:.0f} MB"


def fresh(raw: bytes) -> bytes:
    """A new MsgId where the document has one, so a mutation is not a mere duplicate."""
    try:
        return with_new_msg_id(raw)[0]
    except AssertionError:  # no MsgId (AppRec, or a MsgId the pattern does not see)
        return raw


def corpus_inputs(samples: list[Sample]) -> list[Input]:
    """Every mutation of the chosen documents, spread over (long: sent to) every ingress."""
    rng = random.Random(SEED)
    documents = [s.raw for s in samples]
    if not LONG:
        documents = rng.sample(documents, SHORT_DOCUMENTS)
    inputs: list[Input] = []
    turn = 0
    for raw in documents:
        for name, mutate in MUTATIONS.items():
            mutated = mutate(fresh(raw), rng)
            targets = INGRESSES if LONG else (INGRESSES[turn % len(INGRESSES)],)
            turn += 1
            for ingress in targets:
                header = rng.choice(ODD_HEADER_VALUES) if name in {"garbage", "flip_bits"} else None
                inputs.append(Input(ingress, mutated, header))
    return inputs


# -- sending --------------------------------------------------------------------------------


def send_http(hub: RunningHub, item: Input) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"Content-Type", b"application/xml"),
        (b"Authorization", f"Bearer {hub.token}".encode()),
    ]
    if isinstance(item.header, bytes):
        # Any bytes a client can send in a header (no controls): not UTF-8, say.
        value = bytes(b for b in item.header if b >= 0x20 and b != 0x7F).strip()
        if value:
            headers.append((b"X-Request-Id", value))
    response = httpx.post(f"{hub.api}/v1/messages", content=item.raw, headers=headers, timeout=60)
    assert response.status_code in ANSWERS, (response.status_code, response.text[:300])
    if response.status_code != 202:
        assert response.headers["content-type"] == "application/problem+json"


def amqp_headers(item: Input) -> dict[str, object]:
    return {} if item.header is None else {"fromHerId": item.header}


def kafka_header(item: Input) -> ProducedHeaders:
    if item.header is None:
        return [("principal", KAFKA_PRINCIPAL.encode())]
    value = item.header if isinstance(item.header, bytes) else str(item.header).encode()
    return [("principal", value)]


def inbound_headers(item: Input) -> ProducedHeaders:
    if item.header is None:
        return [("principal", PRINCIPAL.encode())]
    value = item.header if isinstance(item.header, bytes) else str(item.header).encode()
    return [("principal", value), (INBOUND_HEADER, value)]  # an undecodable metadata header


def produce(hub: RunningHub, topic: str, records: list[tuple[bytes, ProducedHeaders]]) -> None:
    producer = Producer({"bootstrap.servers": hub.bootstrap, "message.max.bytes": 60_000_000})
    failed: list[KafkaError] = []

    def report(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failed.append(error)

    for value, headers in records:
        producer.produce(topic, value=value, headers=headers, on_delivery=report)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not failed, failed


def adapter_counts(hub: RunningHub) -> Counter[str]:
    """Accepted plus refused, per adapter, from the hub's ``/metrics``."""
    return Counter(
        {
            adapter: int(
                hub.metric("meldingshub_ingress_accepted_total", adapter=adapter)
                + hub.metric("meldingshub_ingress_refused_total", adapter=adapter)
            )
            for adapter in ADAPTERS
        }
    )


def broker_unavailable(hub: RunningHub) -> float:
    return hub.metric("meldingshub_ingress_refused_total", reason="broker_unavailable")


def drive(hub: RunningHub, accounts: Accounts, inputs: list[Input], timeout_s: float) -> None:
    """Send ``inputs`` and wait until every one is accounted for; check the hub is well."""
    before = adapter_counts(hub)
    unavailable = broker_unavailable(hub)
    names: list[str] = []
    by_ingress: dict[str, list[Input]] = {
        i: [x for x in inputs if x.ingress == i] for i in INGRESSES
    }
    for item in by_ingress["http"]:
        send_http(hub, item)
    hub.publish([(x.raw, amqp_headers(x)) for x in by_ingress["amqp"]])
    for item in by_ingress["file"]:
        name = f"{uuid.uuid4().hex}.xml"
        (hub.inbox / f".{name}.part").write_bytes(item.raw)
        (hub.inbox / f".{name}.part").rename(hub.inbox / name)
        names.append(name)
    produce(hub, hub.kafka_topic, [(x.raw, kafka_header(x)) for x in by_ingress["kafka"]])
    inbound = hub.settings.kafka.topics.inbound.name
    produce(hub, inbound, [(x.raw, inbound_headers(x)) for x in by_ingress["inbound"]])

    expected = Counter({a: len(by_ingress[a]) for a in ADAPTERS})

    def ingress_settled() -> bool:
        now = adapter_counts(hub)
        return all(now[a] - before[a] >= expected[a] for a in ADAPTERS)

    wait_for(ingress_settled, timeout_s, f"not every input was accounted for: {expected}")
    done, failed = hub.inbox / "done", hub.inbox / "failed"

    def files_settled() -> bool:
        return all(
            (done / name).exists()
            or ((failed / name).exists() and (failed / f"{name}.error.json").exists())
            for name in names
        )

    wait_for(files_settled, timeout_s, "a file was neither done nor failed")
    assert hub.queue_depths()[0] == 0
    hub.drain_error_queue()
    assert broker_unavailable(hub) == unavailable, "the hub could not write while fuzzed"
    wait_for(accounts.settled, timeout_s, "a hub.inbound record has no event")
    assert hub.alive(), "the hub stopped"
    assert hub.restarts() == 0
    assert hub.readyz().status_code == 200


# -- the tests --------------------------------------------------------------------------------


def test_every_mutation_of_the_corpus_through_every_ingress(
    hub: HubProcess, accounts: Accounts, memory: int, samples: list[Sample]
) -> None:
    inputs = corpus_inputs(samples)
    assert {i.ingress for i in inputs} == set(INGRESSES)
    drive(hub, accounts, inputs, 900 if LONG else 90)
    assert_memory_bounded(hub, memory)


@st.composite
def fuzzed(draw: st.DrawFn, documents: list[bytes]) -> Input:
    """A corpus document changed where ids, encodings and structure are parsed."""
    raw = draw(st.sampled_from(documents))
    choice = draw(st.integers(0, 3))
    if choice == 0:  # an id with any Unicode digits, spaces or letters
        token = draw(st.text(st.characters(categories=["Nd", "No", "Zs", "Lu"]), max_size=20))
        raw = raw.replace(b"<Id>", b"<Id>" + token.encode("utf-8"), 1)
    elif choice == 1:  # arbitrary bytes spliced in
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(max_size=64)) + raw[at:]
    elif choice == 2:  # cut anywhere
        raw = raw[: draw(st.integers(0, len(raw)))]
    else:  # any bytes at all
        raw = draw(st.binary(max_size=512))
    header = draw(st.one_of(st.none(), st.binary(max_size=16), st.sampled_from(ODD_HEADER_VALUES)))
    return Input(draw(st.sampled_from(INGRESSES)), raw, header)


@pytest.fixture(scope="module")
def small_documents(samples: list[Sample]) -> list[bytes]:
    return [s.raw for s in samples if len(s.raw) < 50_000]


def test_hypothesis_inputs_through_every_ingress(
    hub: HubProcess, accounts: Accounts, memory: int, small_documents: list[bytes]
) -> None:
    @settings(
        max_examples=HYPOTHESIS_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=not LONG,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=st.lists(fuzzed(small_documents), min_size=1, max_size=12))
    def run(batch: list[Input]) -> None:
        drive(hub, accounts, batch, 120 if LONG else 60)

    run()
    assert_memory_bounded(hub, memory)
