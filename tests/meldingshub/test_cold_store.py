"""The cold store: what a checkpoint moved off the embedded broker, kept once, read in pages."""

import time
from pathlib import Path

from meldingshub.cold_store import ColdStore

NOW_MS = 1_800_000_000_000


def test_a_checkpoint_restored_twice_keeps_each_cold_record_once(tmp_path: Path) -> None:
    """A stop between a restore and the removal of its checkpoint restores it again."""
    cold = ColdStore(tmp_path / "cold.sqlite")
    records = [(0, b"a", b"1", NOW_MS), (1, b"b", b"2", NOW_MS), (2, b"a", b"3", NOW_MS)]
    for _ in range(2):
        cold.keep("window", 0, records, compacted=True, oldest_ms=None)
        cold.keep("stream", 0, records, compacted=False, oldest_ms=None)
    assert list(cold.read("window", {0: 0})) == [(0, b"b", b"2"), (0, b"a", b"3")]
    assert [value for _p, _k, value in cold.read("stream", {0: 0})] == [b"1", b"2", b"3"]
    assert list(cold.read("window", {1: 0})) == []
    assert [value for _p, _k, value in cold.read("stream", {0: 1})] == [b"2", b"3"]
    assert cold.forget() and not cold.forget()
    assert list(cold.read("window", {0: 0})) == []


def test_a_reader_between_pages_does_not_hold_up_a_restore(tmp_path: Path) -> None:
    """The router applies what it read a page at a time while a checkpoint's restore may
    write: neither waits for the other, and the reader gets every record once, in order."""
    cold = ColdStore(tmp_path / "cold.sqlite")
    count = 25_001  # more than two pages
    cold.keep(
        "sent", 0, [(o, b"k%d" % o, b"v", NOW_MS) for o in range(count)], compacted=True,
        oldest_ms=None,
    )  # fmt: skip
    reading = cold.read("sent", {0: 0})
    first = next(reading)  # the reader is applying its first page
    started = time.monotonic()
    cold.keep("sent", 0, [(count, b"new", b"v", NOW_MS)], compacted=True, oldest_ms=None)
    assert time.monotonic() - started < 5  # did not wait out a lock
    rest = list(reading)
    keys = [first[1], *(key for _p, key, _v in rest)]
    assert keys[:count] == [b"k%d" % o for o in range(count)]
