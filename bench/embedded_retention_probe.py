"""Can the embedded broker ever give memory back? Probes the vendored Tansu in its `memory://` mode.

Issue #20: the embedded broker's memory grows with every record. This starts the
broker as the hub does (:class:`meldingshub.embedded_broker.EmbeddedBroker`) and
measures each way a Kafka broker frees records:

1. ``DeleteRecords`` at every version the broker advertises (raw requests, so the
   version is ours and not the client's choice): answered, or connection dropped,
   and is the log start offset moved afterwards?
2. ``retention.ms`` on a topic: are records older than it gone after twice that time?
3. ``cleanup.policy=compact``: do records with one key shrink to one?
4. ``DeleteTopics``: the broker's memory before the fill, after it and after the delete,
   three rounds (the baseline is the broker's memory before the first fill).

It prints what it found; the figures of a run are in bench/README.md.

    .venv/bin/python bench/embedded_retention_probe.py [--records 20000]
"""

import argparse
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from meldingshub.embedded_broker import EmbeddedBroker, free_port

MB = 1_000_000
API_DELETE_RECORDS = 21
API_VERSIONS = 18
PAYLOAD = b"x" * 2_000


def _frame(api_key: int, version: int, correlation: int, body: bytes, flexible: bool) -> bytes:
    client = b"probe"
    header = struct.pack(">hhih", api_key, version, correlation, len(client)) + client
    if flexible:
        header += b"\x00"  # no tagged fields in the request header (v2)
    message = header + body
    return struct.pack(">i", len(message)) + message


def _exchange(address: tuple[str, int], request: bytes) -> bytes | None:
    """Send one request on a fresh connection; the answer, or None when the broker hung up."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request)
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        (size,) = struct.unpack(">i", head)
        body = b""
        while len(body) < size:
            chunk = sock.recv(size - len(body))
            if not chunk:
                return None
            body += chunk
        return body


def delete_records_versions(address: tuple[str, int]) -> tuple[int, int]:
    """The DeleteRecords versions the broker advertises in ApiVersions v0."""
    answer = _exchange(address, _frame(API_VERSIONS, 0, 1, b"", flexible=False))
    if answer is None:
        raise SystemExit("the broker hung up on ApiVersions")
    _correlation, _error, count = struct.unpack(">ihi", answer[:10])
    for i in range(count):
        key, low, high = struct.unpack(">hhh", answer[10 + 6 * i : 16 + 6 * i])
        if key == API_DELETE_RECORDS:
            return low, high
    raise SystemExit("the broker does not advertise DeleteRecords")


def _delete_records_body(topic: str, offset: int, version: int) -> bytes:
    name = topic.encode()
    if version < 2:
        return (
            struct.pack(">ih", 1, len(name))
            + name
            + struct.pack(">iiq", 1, 0, offset)
            + struct.pack(">i", 5_000)
        )
    # v2 is flexible: compact arrays and strings (length + 1) and empty tagged fields.
    return (
        bytes([2, len(name) + 1])
        + name
        + bytes([2])
        + struct.pack(">iq", 0, offset)
        + b"\x00\x00"  # partition's and topic's tagged fields
        + struct.pack(">i", 5_000)
        + b"\x00"
    )


def _fill(bootstrap: str, topic: str, records: int, keyed: bool = False) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "log_level": 0})
    for i in range(records):
        key = b"same" if keyed else str(i).encode()
        while True:
            try:
                producer.produce(topic, PAYLOAD, key=key, partition=0)
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(60):
        raise SystemExit(f"could not write {records} records to {topic}")


def _watermarks(bootstrap: str, topic: str) -> tuple[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "probe", "log_level": 0})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        return int(low), int(high)
    finally:
        consumer.close()


def _readable(bootstrap: str, topic: str, expected_at_most: int) -> int:
    """Records a fresh consumer reads from the start of partition 0 (stops when nothing comes)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"probe-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    consumer.assign([TopicPartition(topic, 0, 0)])
    count = 0
    idle_since = time.monotonic()
    try:
        while count < expected_at_most and time.monotonic() - idle_since < 5:
            batch = consumer.consume(1_000, timeout=1)
            if batch:
                count += sum(1 for m in batch if m.error() is None)
                idle_since = time.monotonic()
        return count
    finally:
        consumer.close()


def _create(admin: AdminClient, topic: str, config: dict[str, str] | None = None) -> None:
    futures = admin.create_topics([NewTopic(topic, 1, 1, config=config or {})])
    futures[topic].result(30)


def _delete(admin: AdminClient, topic: str) -> None:
    admin.delete_topics([topic])[topic].result(30)


def probe_delete_records(broker: EmbeddedBroker, admin: AdminClient, records: int) -> None:
    address = (broker.host, broker.port)
    low_version, high_version = delete_records_versions(address)
    print(f"DeleteRecords versions advertised: {low_version}..{high_version}")
    for version in range(low_version, high_version + 1):
        topic = f"probe-delete-records-v{version}"
        _create(admin, topic)
        _fill(broker.bootstrap_servers, topic, records)
        half = records // 2
        answer = _exchange(
            address,
            _frame(
                API_DELETE_RECORDS,
                version,
                7,
                _delete_records_body(topic, half, version),
                version >= 2,
            ),
        )
        outcome = "connection dropped" if answer is None else f"answered ({len(answer)} bytes)"
        alive = broker.memory_bytes() is not None
        low, high = _watermarks(broker.bootstrap_servers, topic)
        print(
            f"  v{version} delete before offset {half}: {outcome}; broker still running: "
            f"{alive}; watermarks after: low {low}, high {high}"
        )
        _delete(admin, topic)


def probe_retention(broker: EmbeddedBroker, admin: AdminClient, records: int) -> None:
    topic = "probe-retention"
    _create(admin, topic, {"retention.ms": "3000", "segment.ms": "1000"})
    _fill(broker.bootstrap_servers, topic, records)
    time.sleep(6.5)  # the point of the probe: records older than retention.ms, twice over
    low, high = _watermarks(broker.bootstrap_servers, topic)
    kept = _readable(broker.bootstrap_servers, topic, records)
    print(
        f"retention.ms=3000: {records} written, after 6.5 s low {low}, high {high}, "
        f"{kept} still readable"
    )
    _delete(admin, topic)


def probe_compaction(broker: EmbeddedBroker, admin: AdminClient, records: int) -> None:
    topic = "probe-compact"
    _create(admin, topic, {"cleanup.policy": "compact", "segment.ms": "1000"})
    _fill(broker.bootstrap_servers, topic, records, keyed=True)
    time.sleep(3)
    kept = _readable(broker.bootstrap_servers, topic, records)
    print(f"cleanup.policy=compact: {records} records of one key written, {kept} still readable")
    _delete(admin, topic)


def probe_delete_topics(broker: EmbeddedBroker, admin: AdminClient, records: int) -> None:
    baseline = broker.memory_bytes() or 0
    print(f"DeleteTopics, {records} records of {len(PAYLOAD)} bytes a round (broker MB):")
    for round_ in range(1, 4):
        topic = f"probe-rotate-{round_}"
        before = broker.memory_bytes() or 0
        _create(admin, topic)
        _fill(broker.bootstrap_servers, topic, records)
        filled = broker.memory_bytes() or 0
        _delete(admin, topic)
        time.sleep(1)
        after = broker.memory_bytes() or 0
        print(
            f"  round {round_}: before {before / MB:.0f}, filled {filled / MB:.0f}, "
            f"deleted {after / MB:.0f} ({(after - baseline) / MB:+.1f} against the first baseline)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="records a probe writes")
    args = parser.parse_args()
    with EmbeddedBroker(port=free_port()) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers, "log_level": 0})
        print(f"broker pid {broker.pid}, memory {(broker.memory_bytes() or 0) / MB:.0f} MB")
        probe_delete_topics(broker, admin, args.records)
        probe_delete_records(broker, admin, args.records)
        probe_retention(broker, admin, args.records)
        probe_compaction(broker, admin, args.records)


if __name__ == "__main__":
    main()
