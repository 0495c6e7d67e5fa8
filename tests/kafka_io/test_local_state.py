"""The router's on-disk state: what it returns, what it forgets, and that it leaves no file."""

import threading
from pathlib import Path

from kafka_io import local_state
from kafka_io.local_state import LocalState

HOUR_MS = 3_600_000


def test_get_returns_what_was_put_per_partition(tmp_path: Path) -> None:
    state = LocalState(tmp_path, "dedup", ttl_ms=HOUR_MS)
    state.put(0, b"8094866|msg-1", 1_000, "hub-id-a")
    state.put(1, b"8094866|msg-1", 2_000, "hub-id-b")
    state.put(0, b"8094866|msg-1", 3_000, "hub-id-c")  # replaces
    assert state.get(0, b"8094866|msg-1", 3_000) == (3_000, "hub-id-c")
    assert state.get(1, b"8094866|msg-1", 3_000) == (2_000, "hub-id-b")
    assert state.get(2, b"8094866|msg-1", 3_000) is None
    assert state.get(0, b"8094866|msg-2", 3_000) is None
    assert len(state) == 2


def test_keys_past_the_time_to_live_are_not_returned(tmp_path: Path) -> None:
    state = LocalState(tmp_path, "dedup", ttl_ms=HOUR_MS)
    state.put(0, b"k", 10 * HOUR_MS, "v")
    assert state.get(0, b"k", 11 * HOUR_MS) == (10 * HOUR_MS, "v")
    assert state.get(0, b"k", 11 * HOUR_MS + 1) is None


def test_expired_keys_are_swept_so_the_file_stays_as_small_as_the_window(
    tmp_path: Path,
) -> None:
    state = LocalState(tmp_path, "sent", ttl_ms=HOUR_MS)
    sweep = local_state._EXPIRE_EVERY
    state.put_many((0, f"old-{i}".encode(), 0, "") for i in range(sweep // 2))
    assert len(state) == sweep // 2
    state.put_many((0, f"new-{i}".encode(), 2 * HOUR_MS, "") for i in range(sweep // 2))
    assert len(state) == sweep // 2
    assert state.get(0, b"new-0", 2 * HOUR_MS) == (2 * HOUR_MS, "")


def test_delete_and_drop_forget_keys(tmp_path: Path) -> None:
    state = LocalState(tmp_path, "dedup", ttl_ms=HOUR_MS)
    state.put_many([(0, b"a", 1, "x"), (0, b"b", 1, "y"), (1, b"a", 1, "z")])
    state.delete(0, b"a")
    assert state.get(0, b"a", 1) is None
    state.drop([0])
    assert state.get(0, b"b", 1) is None
    assert state.get(1, b"a", 1) == (1, "z")


def test_nothing_is_left_on_disk(tmp_path: Path) -> None:
    state = LocalState(tmp_path, "dedup", ttl_ms=HOUR_MS)
    state.put(0, b"k", 1, "v")
    assert list(tmp_path.iterdir()) == []
    assert state.get(0, b"k", 1) == (1, "v")
    state.close()
    assert list(tmp_path.iterdir()) == []


def test_a_follower_thread_writes_while_the_router_thread_reads(tmp_path: Path) -> None:
    state = LocalState(tmp_path, "sent", ttl_ms=HOUR_MS)
    keys = [f"8094866|msg-{i}".encode() for i in range(5_000)]
    errors: list[BaseException] = []

    def follow() -> None:
        try:
            for start in range(0, len(keys), 100):
                state.put_many((0, key, 5, "") for key in keys[start : start + 100])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    writer = threading.Thread(target=follow)
    writer.start()
    while writer.is_alive():
        for key in keys[::500]:
            state.get(0, key, 5)
    writer.join()
    assert errors == []
    assert all(state.get(0, key, 5) == (5, "") for key in keys)
