"""Import a register file into the parties topic: validate everything, then publish the difference.

Nothing is published unless every row is valid and every parent exists (in the
file, or, when missing parties are kept, in the topic). A full import (the
default) makes the topic equal to the file: parties absent from the file get a
tombstone. Seeding publishes a snapshot file only into an empty topic.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from addressregister.errors import RegisterFileError, RowError
from addressregister.fileformat import RegisterFile, read_register_file
from addressregister.model import CommunicationParty
from addressregister.topic import publish_changes, read_parties
from kafka_io import DurableProducer, client_config, ensure_topics, producer_config
from kafka_io.settings import KafkaSettings
from schemas.avro_codec import AvroCodec

log = structlog.get_logger(__name__)

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import changes."""

    upserts: tuple[CommunicationParty, ...]
    removals: tuple[int, ...]
    unchanged: int

    @property
    def empty(self) -> bool:
        """True when the topic already holds exactly what the file says."""
        return not self.upserts and not self.removals


def plan_import(
    source: RegisterFile,
    current: Mapping[int, CommunicationParty],
    *,
    remove_missing: bool = True,
    path: str = "register file",
) -> ImportPlan:
    """The changes that make the topic match ``source``; raises when a parent is missing."""
    incoming = {party.her_id: party for party in source.parties}
    known = incoming if remove_missing else {**current, **incoming}
    errors = [
        RowError(
            row,
            "parentHerId",
            f"no party with HER-id {party.parent_her_id} "
            + ("in the file" if remove_missing else "in the file or the register"),
            party.her_id,
        )
        for party, row in zip(source.parties, source.rows, strict=True)
        if party.parent_her_id is not None and party.parent_her_id not in known
    ]
    if errors:
        raise RegisterFileError(path, errors)
    upserts = tuple(p for p in source.parties if current.get(p.her_id) != p)
    removals = tuple(sorted(h for h in current if h not in incoming)) if remove_missing else ()
    return ImportPlan(upserts, removals, len(source.parties) - len(upserts))


def import_file(
    path: Path,
    kafka: KafkaSettings,
    bootstrap_servers: str,
    *,
    file_format: str | None = None,
    remove_missing: bool = True,
    dry_run: bool = False,
    codec: AvroCodec | None = None,
    timeout_s: float = 60.0,
    read_progress: Progress | None = None,
    publish_progress: Progress | None = None,
) -> ImportPlan:
    """Validate ``path`` and publish its changes to the parties topic (nothing on any error)."""
    source = read_register_file(path, file_format, read_progress)
    topic = kafka.topics.parties
    ensure_topics(client_config(kafka, bootstrap_servers), [topic], timeout_s)
    current = read_parties(kafka, bootstrap_servers, topic.name, timeout_s=timeout_s, codec=codec)
    plan = plan_import(source, current, remove_missing=remove_missing, path=str(path))
    if dry_run or plan.empty:
        return plan
    producer = DurableProducer(producer_config(kafka, bootstrap_servers))
    try:
        publish_changes(
            producer,
            topic.name,
            plan.upserts,
            plan.removals,
            codec=codec,
            progress=publish_progress,
            timeout_s=timeout_s,
        )
    finally:
        producer.close()
    log.info(
        "register imported",
        upserts=len(plan.upserts),
        removals=len(plan.removals),
        unchanged=plan.unchanged,
    )
    return plan


def seed_from_snapshot(
    snapshot: Path,
    kafka: KafkaSettings,
    bootstrap_servers: str,
    *,
    codec: AvroCodec | None = None,
    timeout_s: float = 60.0,
) -> int:
    """Publish ``snapshot`` into the parties topic when the topic is empty; return how many.

    The embedded default calls this at start, so a fresh broker gets the register
    and a restarted one keeps what it has (including later imports).
    """
    topic = kafka.topics.parties
    ensure_topics(client_config(kafka, bootstrap_servers), [topic], timeout_s)
    current = read_parties(kafka, bootstrap_servers, topic.name, timeout_s=timeout_s, codec=codec)
    if current:
        return 0
    source = read_register_file(snapshot)
    plan = plan_import(source, {}, path=str(snapshot))
    producer = DurableProducer(producer_config(kafka, bootstrap_servers))
    try:
        sent = publish_changes(producer, topic.name, plan.upserts, codec=codec, timeout_s=timeout_s)
    finally:
        producer.close()
    log.info("register topic seeded from snapshot", parties=sent)
    return sent
