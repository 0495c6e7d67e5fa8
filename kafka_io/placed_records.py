"""Writes records back at the offsets they had: how the embedded broker's checkpoint restores.

A Kafka client cannot choose offsets: the broker gives each batch the partition's end
offset and moves the end by the batch's *last offset delta* plus one. So a batch that
holds one record and a last offset delta of ``gap`` puts its record at the end offset and
moves the end ``gap + 1`` on; a batch with no records moves it on alone. Restoring each
surviving record that way keeps every offset the hub refers to (claim checks on
``hub.inbound``, the retry backlog's ``hub.outbound`` positions, committed offsets) valid,
with the consumed and superseded records gone.

One record per batch, on purpose: Tansu's fetch (0.6, ``dynostore.rs``) lists the batches
that *start* at or after the offset asked for, so a record that does not start its batch
might not be read by position (:func:`batches` packs records only where nothing reads by
position; reads inside packed batches came out right when tried, but nothing relies on it).
librdkafka cannot build such batches, so this module writes Produce requests (v3, record
batch v2, gzip, no producer id) on its own connection. Compressed, what is kept costs the
broker's memory a fraction of what it cost when written.
"""

import socket
import struct
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import crc32c
from confluent_kafka import Message

from hubcore.errors import MeldingshubError

__all__ = [
    "FILLER_HEADER",
    "PlacedRecord",
    "PlacedWriteError",
    "PlacedWriter",
    "encode_batch",
    "is_filler",
    "readable",
]

_PRODUCE = 0
_PRODUCE_VERSION = 3
_MAGIC = 2
_NO_PRODUCER = -1
_GZIP = 1
_PACK_RECORDS = 1000
_PACK_BYTES = 256 * 1024
_IN_FLIGHT = 64
"""Produce requests sent before their answers are read."""


class PlacedWriteError(MeldingshubError):
    """The broker refused a placed write or put it somewhere else than asked."""


@dataclass(frozen=True, slots=True)
class PlacedRecord:
    """A record as it was read, to be written back at ``offset``."""

    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]
    timestamp_ms: int


def _varint(value: int) -> bytes:
    """Zig-zag variable-length integer, as Kafka's record format has them."""
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def _sized(data: bytes | None) -> bytes:
    return _varint(-1) if data is None else _varint(len(data)) + data


def _record(record: PlacedRecord, base_offset: int, base_timestamp_ms: int) -> bytes:
    body = b"".join(
        [
            b"\x00",  # attributes
            _varint(record.timestamp_ms - base_timestamp_ms),
            _varint(record.offset - base_offset),
            _sized(record.key),
            _sized(record.value),
            _varint(len(record.headers)),
            *(_sized(name.encode()) + _sized(value) for name, value in record.headers),
        ]
    )
    return _varint(len(body)) + body


def encode_batch(records: Sequence[PlacedRecord], span: int) -> bytes:
    """A record batch (v2, gzip) of ``records`` (in offset order, the first at the batch's
    base offset) that moves the partition's end offset by ``span``."""
    if not records:
        raise ValueError("a placed batch holds at least one record")
    base = records[0].offset
    if span < records[-1].offset - base + 1 or span > 2**31:
        raise ValueError(f"a batch of offsets {base}..{records[-1].offset} cannot span {span}")
    first_ms = records[0].timestamp_ms
    body = zlib.compress(b"".join(_record(r, base, first_ms) for r in records), 1, 31)
    after_crc = (
        struct.pack(
            ">hiqqqhii",
            _GZIP,  # attributes: create time, not transactional, not control
            span - 1,  # last offset delta
            first_ms,
            max(r.timestamp_ms for r in records),
            _NO_PRODUCER,
            -1,  # producer epoch
            -1,  # base sequence
            len(records),
        )
        + body
    )
    after_length = struct.pack(">ibI", -1, _MAGIC, crc32c.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def batches(
    records: Iterable[PlacedRecord], end: int, *, pack: bool = False
) -> Iterator[tuple[int, bytes]]:
    """``(offset, batch)`` pairs that rebuild a partition from offset 0 to ``end``, with
    ``records`` (in offset order) at their offsets and nothing in between.

    Each batch spans from its first record to the next batch's. The first offset and the
    last (``end - 1``) always hold a record, a :func:`filler` where nothing else is there:
    Tansu cannot be read from a partition that starts with an empty batch, and a last
    batch of more than one offset is read again and again (so it is the last record
    alone). ``pack`` puts up to
    :data:`_PACK_RECORDS` records in a batch (about 1 kB of broker memory saved per record),
    for partitions that are only ever read from their start.
    """
    if end == 0:
        for record in records:
            raise ValueError(f"record at offset {record.offset} past the end 0")
        return
    chunk: list[PlacedRecord] = []
    size = 0
    previous = -1
    for record in _with_fillers(records, end):
        if record.offset <= previous or record.offset >= end:
            raise ValueError(f"record at offset {record.offset} out of order or past {end}")
        previous = record.offset
        record_size = len(record.value or b"") + len(record.key or b"")
        last = record.offset == end - 1  # alone: a last batch of several offsets is read again
        if chunk and (not pack or last or len(chunk) >= _PACK_RECORDS or size >= _PACK_BYTES):
            yield chunk[0].offset, encode_batch(chunk, record.offset - chunk[0].offset)
            chunk, size = [], 0
        chunk.append(record)
        size += record_size
    yield chunk[0].offset, encode_batch(chunk, 1)


def _with_fillers(records: Iterable[PlacedRecord], end: int) -> Iterator[PlacedRecord]:
    """``records`` with a :func:`filler` at offset 0 and at ``end - 1`` where they have none."""
    last, stamp = -1, 0
    for record in records:
        if last == -1 and record.offset > 0:
            yield filler(0, record.timestamp_ms)
        last, stamp = record.offset, record.timestamp_ms
        yield record
    if last == -1:
        yield filler(0, 0)
        last = 0
    if last < end - 1:
        yield filler(end - 1, stamp)


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">h", len(data)) + data


class PlacedWriter:
    """A connection to one broker (the embedded one) for placed writes."""

    def __init__(self, host: str, port: int, timeout_s: float = 30.0) -> None:
        self._socket = socket.create_connection((host, port), timeout=timeout_s)
        self._correlation = 0

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> "PlacedWriter":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def rebuild(
        self,
        topic: str,
        partition: int,
        records: Iterable[PlacedRecord],
        end: int,
        *,
        pack: bool = False,
    ) -> int:
        """Write ``records`` at their offsets into the empty ``topic``/``partition`` and move
        its end to ``end``; return the batches written. Raises if the broker placed one
        anywhere else (the partition was not empty, or another writer came in between)."""
        in_flight: list[tuple[int, int]] = []
        written = 0
        for offset, batch in batches(records, end, pack=pack):
            in_flight.append((self._send(topic, partition, batch), offset))
            written += 1
            if len(in_flight) >= _IN_FLIGHT:
                self._settle(in_flight)
        self._settle(in_flight)
        return written

    def _send(self, topic: str, partition: int, batch: bytes) -> int:
        self._correlation += 1
        request = b"".join(
            [
                struct.pack(">hhi", _PRODUCE, _PRODUCE_VERSION, self._correlation),
                _string("meldingshub-checkpoint"),
                struct.pack(">h", -1),  # no transactional id
                struct.pack(">hi", -1, 30_000),  # acks=all, timeout
                struct.pack(">i", 1),
                _string(topic),
                struct.pack(">i", 1),
                struct.pack(">ii", partition, len(batch)),
                batch,
            ]
        )
        self._socket.sendall(struct.pack(">i", len(request)) + request)
        return self._correlation

    def _settle(self, in_flight: list[tuple[int, int]]) -> None:
        for correlation, expected in in_flight:
            answer = self._receive()
            got_correlation, error, base_offset = _produce_answer(answer)
            if got_correlation != correlation:
                raise PlacedWriteError(f"answer {got_correlation} to request {correlation}")
            if error != 0:
                raise PlacedWriteError(f"broker refused a placed write: Kafka error {error}")
            if base_offset != expected:
                raise PlacedWriteError(
                    f"batch meant for offset {expected} was placed at {base_offset}: "
                    "the partition was not empty"
                )
        in_flight.clear()

    def _receive(self) -> bytes:
        size = struct.unpack(">i", self._read(4))[0]
        return self._read(size)

    def _read(self, size: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < size:
            chunk = self._socket.recv(size - len(chunks))
            if not chunk:
                raise PlacedWriteError("the broker closed the connection")
            chunks += chunk
        return bytes(chunks)


def _produce_answer(answer: bytes) -> tuple[int, int, int]:
    """``(correlation id, error code, base offset)`` of a one-partition Produce v3 answer."""
    correlation, topics = struct.unpack_from(">ii", answer, 0)
    at = 8
    if topics != 1:
        raise PlacedWriteError(f"answer names {topics} topics")
    (name_length,) = struct.unpack_from(">h", answer, at)
    at += 2 + name_length
    (partitions,) = struct.unpack_from(">i", answer, at)
    if partitions != 1:
        raise PlacedWriteError(f"answer names {partitions} partitions")
    _partition, error, base_offset = struct.unpack_from(">ihq", answer, at + 4)
    return correlation, error, base_offset


FILLER_HEADER = "meldingshub-filler"
"""Header of the record a checkpoint puts where a partition's first or last offset has no
record left (the broker cannot start or end a partition with a gap): readers skip it."""


def filler(offset: int, timestamp_ms: int) -> PlacedRecord:
    """The record that holds ``offset`` when nothing else does."""
    return PlacedRecord(offset, None, None, [(FILLER_HEADER, b"")], timestamp_ms)


def is_filler(message: Message) -> bool:
    """True for a checkpoint's filler record (no value, the filler header)."""
    if message.value() is not None:
        return False
    headers = message.headers()
    return isinstance(headers, list) and any(item[0] == FILLER_HEADER for item in headers)


def readable(messages: list[Message]) -> list[Message]:
    """``messages`` without checkpoint fillers (every reader of a hub topic skips them)."""
    if any(m.value() is None for m in messages):
        return [m for m in messages if not is_filler(m)]
    return messages
