"""Keeps what the embedded broker must keep, on disk, so a fresh broker can start with it.

The embedded Tansu broker holds every record in memory and frees nothing short of
deleting a topic (``bench/README.md``, #20). So the hub checkpoints it: with every
component stopped, :func:`save` reads every topic and writes to one SQLite file only
what is still needed, and :func:`restore` writes that into a new, empty broker **at the
offsets it had**, so every offset the hub holds stays true (claim checks on
``hub.inbound``, the retry backlog's ``hub.outbound`` positions, committed offsets).

What is kept of a partition:

* on a topic some consumer group has committed offsets on: the records from the lowest
  committed offset on (what some group has still to read);
* on a topic no group reads by commits (tables read from the start), and on the topics
  the caller names whole (dead letters: the operator's listing reads them from the start
  without a group, whatever a group such as the AMQP rejection reporter has committed):
  all of it, less what its ``retention.ms`` has expired (a compacted topic's only with
  ``cleanup.policy=compact,delete``, as the router's 7-day windows have);
* on a compacted topic: of those, the newest record of each key, unless it is a tombstone;
* on ``hub.inbound`` besides: every record a kept claim check names.

Consumer groups keep their offsets. Where the first or last offset of a partition has no
record left, a filler record holds it (:mod:`kafka_io.placed_records`): readers skip it.
The file holds patients' documents: only its owner can read it, or open its directory.

The caller's *cold* topics (read from the start by readers without a group) are kept like
the others, their tombstones too, but :func:`restore` writes their records to a
:class:`~meldingshub.cold_store.ColdStore` on disk and only the fillers to the broker.
"""

import json
import os
import sqlite3
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from hubcore.errors import MeldingshubError
from kafka_io.placed_records import PlacedRecord, PlacedWriter, is_filler
from meldingshub.cold_store import ColdStore
from schemas.avro_errors import AvroDecodeError
from schemas.record_codec import default_codec

log = structlog.get_logger(__name__)

__all__ = ["CheckpointError", "CheckpointSummary", "restore", "save"]

_SCHEMA = """
CREATE TABLE topic (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL, config TEXT NOT NULL);
CREATE TABLE partition_end (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, end_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition));
CREATE TABLE record (
    topic TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL,
    key BLOB, value BLOB, headers TEXT, timestamp INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset));
CREATE TABLE cold_topic (name TEXT PRIMARY KEY);
CREATE TABLE group_offset (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, PRIMARY KEY (group_id, topic, partition));
"""

_READ_TIMEOUT_S = 60.0
"""Silence after which reading a topic gives up (the broker is on loopback)."""


class CheckpointError(MeldingshubError):
    """The embedded broker could not be checkpointed or restored."""


@dataclass
class CheckpointSummary:
    """Counts for the log and ``/metrics``: never a record's content."""

    topics: int = 0
    records_read: int = 0
    records_kept: int = 0
    records_cold: int = 0
    """Of those, kept on disk rather than in the broker (restored into the cold store)."""
    bytes_kept: int = 0
    seconds: float = 0.0
    kept_by_topic: dict[str, int] = field(default_factory=dict)


def _admin(config: Mapping[str, Any]) -> AdminClient:
    return AdminClient({**config, "log_level": 0})


def _topics(admin: AdminClient) -> dict[str, int]:
    """Topic -> partition count, without the broker's own (``__``) topics."""
    metadata = admin.list_topics(timeout=30)
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__") and topic.error is None
    }


def _configs(admin: AdminClient, topics: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configuration as created (Tansu answers with exactly that, and calls
    it default)."""
    if not topics:
        return {}
    resources = [ConfigResource(ResourceType.TOPIC, name) for name in topics]
    found: dict[str, dict[str, str]] = {}
    for resource, future in admin.describe_configs(resources).items():
        entries = future.result(30)
        found[resource.name] = {
            name: entry.value
            for name, entry in entries.items()
            if entry.value is not None and not entry.is_read_only
        }
    return found


def _group_offsets(admin: AdminClient) -> dict[str, list[TopicPartition]]:
    """Every consumer group's committed offsets."""
    listed = admin.list_consumer_groups().result(30)
    offsets: dict[str, list[TopicPartition]] = {}
    for group in listed.valid:
        futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group.group_id)])
        for future in futures.values():
            committed = future.result(30).topic_partitions or []
            kept = [tp for tp in committed if tp.offset >= 0 and tp.error is None]
            if kept:
                offsets[group.group_id] = kept
    return offsets


def _read_all(
    config: Mapping[str, Any], partitions: Mapping[str, int]
) -> Iterator[tuple[Message | None, str, int, int]]:
    """Every record of the ``partitions`` (topic -> count), one consumer for them all:
    ``(message, topic, partition, -1)``, and ``(None, topic, partition, end)`` at each
    partition's end (the offset after its last record, as the broker's fetch says)."""
    consumer = Consumer(
        {
            **config,
            "group.id": "meldingshub-checkpoint",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "log_level": 0,
            # Tansu holds a fetch that finds nothing this long: the ends come sooner.
            "fetch.wait.max.ms": 10,
        }
    )
    try:
        pending = {(topic, p) for topic, count in partitions.items() for p in range(count)}
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in sorted(pending)])
        last: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + _READ_TIMEOUT_S
        while pending:
            if time.monotonic() > deadline:
                raise CheckpointError(f"reading {len(pending)} partitions stalled")
            for message in consumer.consume(1000, 0.2):
                topic, partition = message.topic() or "", message.partition() or 0
                error = message.error()
                if error is None:
                    offset = message.offset() or 0
                    if offset <= last.get((topic, partition), -1):
                        continue  # read again (a fetch that went back): kept once
                    last[(topic, partition)] = offset
                    deadline = time.monotonic() + _READ_TIMEOUT_S
                    yield message, topic, partition, -1
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise CheckpointError(f"reading {topic}: {error}")
                elif (topic, partition) in pending:
                    pending.discard((topic, partition))
                    _low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), cached=True
                    )
                    yield None, topic, partition, max(message.offset() or 0, high)
    finally:
        consumer.close()


@dataclass(frozen=True)
class _Rule:
    """What of one topic a checkpoint keeps (see the module's docstring)."""

    topic: str
    compacted: bool
    starts: Mapping[int, int]
    """Partition -> lowest committed offset of any group; empty when no group reads it."""
    oldest_ms: int | None
    """Records written before this are expired (its ``retention.ms``), if it has one."""

    @classmethod
    def of(
        cls,
        config: Mapping[str, str],
        topic: str,
        starts: Mapping[tuple[str, int], int],
        now_ms: int,
    ) -> "_Rule":
        retention_ms = int(config.get("retention.ms", "-1"))
        policy = config.get("cleanup.policy", "delete")
        compacted = "compact" in policy
        return cls(
            topic,
            compacted,
            {p: offset for (t, p), offset in starts.items() if t == topic},
            # "compact,delete" (the router's windows): entries also expire with their age.
            now_ms - retention_ms if retention_ms >= 0 and "delete" in policy else None,
        )

    def keeps(self, partition: int, message: Message) -> bool:
        if self.starts:
            return (message.offset() or 0) >= self.starts.get(partition, 0)
        if self.compacted:
            return True  # compacted first, then the newest per key expires (see save)
        return self.oldest_ms is None or message.timestamp()[1] >= self.oldest_ms


def _claim_checks(value: bytes | None) -> Iterator[tuple[str, int, int]]:
    """The ``(topic, partition, offset)`` every claim check in a hub record names."""
    if not value:
        return
    try:
        decoded = default_codec().decode(value)
    except AvroDecodeError:
        return  # not a hub record (a document, a register entry of another format)
    stack: list[Any] = [decoded]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("payload_ref")
            if isinstance(ref, dict):
                yield str(ref["topic"]), int(ref["partition"]), int(ref["offset"])
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(item)


def _headers_text(message: Message) -> str:
    """Headers as JSON, the values as Latin-1 text (lossless for any byte)."""
    headers = message.headers()
    pairs = headers.items() if isinstance(headers, dict) else headers or []
    return json.dumps(
        [
            [name, value if value is None or isinstance(value, str) else value.decode("latin-1")]
            for name, value in pairs
        ]
    )


def save(
    config: Mapping[str, Any],
    path: Path,
    inbound_topic: str,
    whole_topics: Collection[str] = (),
    claim_topics: Collection[str] | None = None,
    cold_topics: Collection[str] = (),
) -> CheckpointSummary:
    """Write what the broker at ``config`` must keep to ``path`` (replaced atomically).

    ``whole_topics`` are kept whole (less what their retention expired) even where a group
    has committed on them: some reader needs them from the start (the dead letters).
    ``claim_topics`` are the topics whose records may carry claim checks (the hub's own
    routed messages and dead letters; None: every topic but ``inbound_topic``): only those
    are decoded, never what an outside producer wrote to an ingress topic. ``cold_topics``
    no group has committed on are kept whole too (their tombstones with them) and marked
    for :func:`restore` to keep off the broker. Every component must be stopped: nothing may
    write while the topics are read.
    """
    started = time.monotonic()
    summary = CheckpointSummary()
    admin = _admin(config)
    topics = _topics(admin)
    configs = _configs(admin, sorted(topics))
    groups = _group_offsets(admin)
    # A cold topic some group reads by position (an outside reader of the status feed)
    # stays in the broker: off it, the group would find only fillers.
    read_by_groups = {tp.topic for committed in groups.values() for tp in committed}
    cold_topics = set(cold_topics) - read_by_groups
    starts: dict[tuple[str, int], int] = {}
    for committed in groups.values():
        for tp in committed:
            if tp.topic in whole_topics:
                continue  # read from the start by a reader without a group
            key = (tp.topic, tp.partition)
            starts[key] = min(starts.get(key, tp.offset), tp.offset)
    now_ms = int(time.time() * 1000)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    partial.unlink(missing_ok=True)
    # Owner-only from the first byte (patients' documents); SQLite takes the empty file.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    db = sqlite3.connect(partial)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        claimed: set[tuple[int, int]] = set()
        for name, count in topics.items():
            db.execute(
                "INSERT INTO topic VALUES (?, ?, ?)",
                (name, count, json.dumps(configs.get(name, {}))),
            )
        db.executemany(
            "INSERT INTO cold_topic VALUES (?)", [(name,) for name in topics if name in cold_topics]
        )
        rules = {name: _Rule.of(configs.get(name, {}), name, starts, now_ms) for name in topics}
        # hub.inbound last: the claim checks in the other topics say what of it to keep.
        others = {name: count for name, count in topics.items() if name != inbound_topic}
        inbound = {name: count for name, count in topics.items() if name == inbound_topic}
        for group_of_topics in (others, inbound):
            for message, topic, partition, end in _read_all(config, group_of_topics):
                if message is None:
                    db.execute(
                        "INSERT INTO partition_end VALUES (?, ?, ?)", (topic, partition, end)
                    )
                    continue
                if is_filler(message):
                    continue
                summary.records_read += 1
                offset = message.offset() or 0
                claim = topic == inbound_topic and (partition, offset) in claimed
                if not (claim or rules[topic].keeps(partition, message)):
                    continue
                value = message.value()
                if topic != inbound_topic and (claim_topics is None or topic in claim_topics):
                    claimed.update((p, o) for t, p, o in _claim_checks(value) if t == inbound_topic)
                db.execute(
                    "INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (topic, partition, offset, message.key(), value, _headers_text(message),
                     message.timestamp()[1]),
                )  # fmt: skip
        for name, rule in rules.items():
            if rule.compacted:
                # A cold topic's tombstones must reach the records its store already holds.
                _compact(db, name, tombstones=name not in cold_topics)
                if rule.oldest_ms is not None and not rule.starts:
                    db.execute(
                        "DELETE FROM record WHERE topic = ? AND timestamp < ?",
                        (name, rule.oldest_ms),
                    )
        summary.topics = len(topics)
        for name, kept in db.execute("SELECT topic, COUNT(*) FROM record GROUP BY topic"):
            summary.kept_by_topic[name] = kept
            summary.records_kept += kept
        for group, committed in groups.items():
            db.executemany(
                "INSERT INTO group_offset VALUES (?, ?, ?, ?)",
                [(group, tp.topic, tp.partition, tp.offset) for tp in committed],
            )
        summary.bytes_kept = int(
            db.execute(
                "SELECT COALESCE(SUM(LENGTH(value)) + SUM(LENGTH(key)), 0) FROM record"
            ).fetchone()[0]
        )
        db.commit()
    except BaseException:
        db.close()
        partial.unlink(missing_ok=True)  # a full disk must not stay full of a half checkpoint
        raise
    db.close()
    with partial.open("rb") as written:
        os.fsync(written.fileno())
    partial.replace(path)
    _fsync_directory(path.parent)  # the rename too: after a stop this is the only copy
    summary.seconds = time.monotonic() - started
    return summary


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _compact(db: sqlite3.Connection, topic: str, *, tombstones: bool = True) -> int:
    """Keep the newest record of each key, none for a key whose newest is a tombstone
    (unless ``tombstones`` is false: then the tombstone stays); return how many went."""
    superseded = db.execute(
        """DELETE FROM record WHERE topic = ?1 AND (partition, offset) NOT IN (
               SELECT partition, MAX(offset) FROM record WHERE topic = ?1
               GROUP BY partition, key)""",
        (topic,),
    ).rowcount
    if not tombstones:
        return superseded
    removed = db.execute("DELETE FROM record WHERE topic = ? AND value IS NULL", (topic,)).rowcount
    return superseded + removed


def restore(
    config: Mapping[str, Any],
    host: str,
    port: int,
    path: Path,
    inbound_topic: str,
    cold: ColdStore | None = None,
) -> CheckpointSummary:
    """Create the topics of the checkpoint at ``path`` on the new, empty broker at
    ``host:port`` and write its records at their offsets; commit the groups' offsets.

    With a ``cold`` store, the records of the cold topics go there instead, and the broker
    gets only what holds their offsets."""
    started = time.monotonic()
    summary = CheckpointSummary()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        topics = db.execute("SELECT name, partitions, config FROM topic").fetchall()
        admin = _admin(config)
        new = [
            NewTopic(name, partitions, replication_factor=-1, config=json.loads(text))
            for name, partitions, text in topics
        ]
        if new:
            for name, future in admin.create_topics(new, request_timeout=30).items():
                try:
                    future.result(30)
                except Exception as exc:
                    raise CheckpointError(f"cannot create topic {name}: {exc}") from None
        ends = {
            (topic, partition): end
            for topic, partition, end in db.execute("SELECT * FROM partition_end")
        }
        # Packed batches only where no group resumes at a committed offset, which could fall
        # inside one, and never on hub.inbound, which claim checks read record by record.
        by_offset = {topic for (topic,) in db.execute("SELECT DISTINCT topic FROM group_offset")}
        by_offset.add(inbound_topic)
        kept_cold = _cold_topics(db) if cold is not None else set()
        with PlacedWriter(host, port) as writer:
            for name, partitions, text in topics:
                summary.topics += 1
                for partition in range(partitions):
                    end = ends.get((name, partition), 0)
                    records = _stored(db, name, partition)
                    if cold is not None and name in kept_cold:
                        summary.records_cold += _keep_cold(cold, name, partition, records, text)
                        records = iter(())
                    writer.rebuild(name, partition, records, end, pack=name not in by_offset)
        _commit_groups(admin, db, ends)
        for name, kept in db.execute("SELECT topic, COUNT(*) FROM record GROUP BY topic"):
            summary.kept_by_topic[name] = kept
            summary.records_kept += kept
    finally:
        db.close()
    summary.seconds = time.monotonic() - started
    return summary


def _cold_topics(db: sqlite3.Connection) -> set[str]:
    """The topics the checkpoint marks cold (none in a checkpoint of an older hub)."""
    try:
        return {name for (name,) in db.execute("SELECT name FROM cold_topic")}
    except sqlite3.OperationalError:
        return set()


def _keep_cold(
    cold: ColdStore, topic: str, partition: int, records: Iterator[PlacedRecord], config: str
) -> int:
    """Move one partition's records into the cold store, expiring by the topic's retention."""
    rule = _Rule.of(json.loads(config), topic, {}, int(time.time() * 1000))
    return cold.keep(
        topic,
        partition,
        ((r.offset, r.key, r.value, r.timestamp_ms) for r in records),
        compacted=rule.compacted,
        oldest_ms=rule.oldest_ms,
    )


def _stored(db: sqlite3.Connection, topic: str, partition: int) -> Iterator[PlacedRecord]:
    rows = db.execute(
        "SELECT offset, key, value, headers, timestamp FROM record "
        "WHERE topic = ? AND partition = ? ORDER BY offset",
        (topic, partition),
    )
    for offset, key, value, headers, timestamp in rows:
        yield PlacedRecord(
            offset,
            key,
            value,
            [
                (name, None if text is None else text.encode("latin-1"))
                for name, text in json.loads(headers or "[]")
            ],
            timestamp,
        )


def _commit_groups(
    admin: AdminClient, db: sqlite3.Connection, ends: Mapping[tuple[str, int], int]
) -> None:
    """Each group's committed offsets as they were; a group with nothing left to read
    starts at the partition's end, past the filler there."""
    last_kept = {
        (topic, partition): offset
        for topic, partition, offset in db.execute(
            "SELECT topic, partition, MAX(offset) FROM record GROUP BY topic, partition"
        )
    }
    by_group: dict[str, list[TopicPartition]] = {}
    for group, topic, partition, offset in db.execute("SELECT * FROM group_offset"):
        end = ends.get((topic, partition), offset)
        if offset > last_kept.get((topic, partition), -1):
            offset = max(offset, end)
        by_group.setdefault(group, []).append(TopicPartition(topic, partition, offset))
    for group, offsets in by_group.items():
        futures = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, offsets)])
        for future in futures.values():
            try:
                future.result(30)
            except Exception as exc:
                raise CheckpointError(
                    f"cannot restore the offsets of group {group}: {exc}"
                ) from None
