"""Records of a topic kept on disk beside the broker rather than in it.

The embedded broker holds every record in memory, so its checkpoint moves the records a
reader reads from the start, and no consumer group reads by position (the router's
de-duplication and correlation windows), out of the broker into a file: the broker keeps
their offsets, the file keeps the records (:mod:`meldingshub.broker_checkpoint`). A
reader of such a topic reads what is on disk first, then the topic from its beginning,
as if it were one log: the records on disk are all older than any in the broker.
"""

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import Protocol

ColdRecord = tuple[int, bytes, bytes | None]
"""``(partition, key, value)``; a value of None is a tombstone."""


class ColdRecords(Protocol):
    """The part of a topic's log kept off the broker."""

    def read(self, topic: str, starts: Mapping[int, int]) -> Iterator[ColdRecord]:
        """The records of ``topic`` kept off the broker, of each partition in ``starts``
        from its offset there on, oldest first within each partition; nothing for a topic
        it keeps nothing of."""
        ...


def in_batches(records: Iterable[ColdRecord], size: int = 10_000) -> Iterator[list[ColdRecord]]:
    """``records`` a batch at a time: a week of a window is millions of them."""
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch
