"""The live register every router and API process holds: the parties topic materialised into
an immutable :class:`RegisterIndex`, swapped atomically when records arrive.

A background thread reads the topic to its end (then ``loaded`` is set), and
keeps following it; each batch of changes builds a new snapshot, so a reader
that called :meth:`LiveRegister.snapshot` keeps a consistent view for as long
as it holds it. A change is visible within one poll interval plus one build
(well under the 2 s the router needs).
"""

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from addressregister.categories import CategoryTable
from addressregister.errors import RegisterUnavailableError
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty
from addressregister.topic import PartyTopicReader, apply_changes
from kafka_io.settings import KafkaSettings
from metrics.register import RegisterChange, RegisterMetrics
from schemas.avro_codec import AvroCodec

log = structlog.get_logger(__name__)

_DRAIN_LIMIT = 50_000
"""Records taken in one go before a snapshot is built, so a bulk import builds few snapshots."""


class RegisterView(Protocol):
    """What readers of the register need: the current snapshot and whether it is loaded."""

    loaded: threading.Event

    def snapshot(self) -> RegisterIndex:
        """The current immutable index."""
        ...

    def usable(self) -> bool:
        """Loaded, and still following its source: decisions may be made on it."""
        ...


class StaticRegister:
    """A register that never changes (a file, a test): the same interface as LiveRegister."""

    def __init__(self, index: RegisterIndex) -> None:
        self._index = index
        self.loaded = threading.Event()
        self.loaded.set()

    def snapshot(self) -> RegisterIndex:
        """The index."""
        return self._index

    def usable(self) -> bool:
        """Always: a static register cannot fall behind."""
        return True


class LiveRegister:
    """Follows ``addressregister.parties``; ``snapshot()`` is cheap and thread-safe."""

    def __init__(
        self,
        kafka: KafkaSettings,
        bootstrap_servers: str,
        *,
        topic: str | None = None,
        categories: CategoryTable | None = None,
        codec: AvroCodec | None = None,
        metrics: RegisterMetrics | None = None,
        poll_interval_s: float = 0.1,
        load_timeout_s: float = 60.0,
        on_snapshot: Callable[[RegisterIndex], None] | None = None,
    ) -> None:
        self.topic = topic or kafka.topics.parties.name
        self._kafka = kafka
        self._bootstrap = bootstrap_servers
        self._categories = categories or CategoryTable.default()
        self._codec = codec
        self._metrics = metrics
        self._poll_interval_s = poll_interval_s
        self._load_timeout_s = load_timeout_s
        self._on_snapshot = on_snapshot
        self._index = RegisterIndex.empty(self._categories)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loaded = threading.Event()
        """Set once the topic has been read to the end offsets it had at start."""
        self.failure: BaseException | None = None
        """Why the follower is down, while it is (it restarts with back-off)."""

    def snapshot(self) -> RegisterIndex:
        """The current immutable index (empty until ``loaded`` is set)."""
        return self._index

    def usable(self) -> bool:
        """Loaded and following: false before the first load and while the follower is down
        (it restarts itself with back-off), so nothing is routed on a register known stale."""
        return self.loaded.is_set() and self.failure is None

    def start(self) -> "LiveRegister":
        """Start following in a background thread; returns at once."""
        if self._thread is not None:
            raise RuntimeError("LiveRegister.start() called twice")
        self._thread = threading.Thread(target=self._run, name="register-follower", daemon=True)
        self._thread.start()
        return self

    def wait_loaded(self, timeout_s: float | None = None) -> RegisterIndex:
        """Block until the first snapshot is built; raise if it failed or took too long."""
        timeout = self._load_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while not self.loaded.wait(0.05):
            if self.failure is not None:
                raise RegisterUnavailableError(f"register not loaded: {self.failure}")
            if time.monotonic() >= deadline:
                raise RegisterUnavailableError(
                    f"register topic {self.topic} not loaded within {timeout:g} s"
                )
        return self._index

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop following and close the consumer."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def __enter__(self) -> "LiveRegister":
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _bad_record(self) -> None:
        if self._metrics is not None:
            self._metrics.change(RegisterChange.BAD_RECORD)

    def _run(self) -> None:
        """Follow the topic; a follower that fails is started again with back-off."""
        backoff = 1.0
        while not self._stop.is_set():
            self._follow_once()
            if self._stop.is_set():
                return
            log.warning("register follower restarting", retry_in_s=backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, 60.0)

    def _follow_once(self) -> None:
        try:
            reader = PartyTopicReader(
                self._kafka, self._bootstrap, self.topic, self._codec, self._bad_record
            )
        except Exception as exc:
            self.failure = exc
            log.error("register follower cannot start", error=str(exc))
            return
        try:
            state = reader.read_to_end(self._load_timeout_s)
            self._publish(state, upserts=len(state), removals=0)
            self.failure = None
            self.loaded.set()
            log.info("register loaded", topic=self.topic, parties=len(state))
            self._follow(reader, state)
        except Exception as exc:
            self.failure = exc
            log.error("register follower stopped", error=str(exc))
        finally:
            reader.close()

    def _follow(self, reader: PartyTopicReader, state: dict[int, CommunicationParty]) -> None:
        while not self._stop.is_set():
            changes = reader.poll(self._poll_interval_s)
            if not changes:
                continue
            while len(changes) < _DRAIN_LIMIT:  # take what is already there, then build once
                more = reader.poll(0.0)
                if not more:
                    break
                changes.extend(more)
            apply_changes(state, changes)
            removals = sum(1 for c in changes if c.party is None)
            self._publish(state, upserts=len(changes) - removals, removals=removals)

    def _publish(
        self, state: dict[int, CommunicationParty], *, upserts: int, removals: int
    ) -> None:
        index = RegisterIndex(state.values(), self._categories)
        self._index = index
        if self._metrics is not None:
            self._metrics.change(RegisterChange.UPSERT, upserts)
            self._metrics.change(RegisterChange.REMOVE, removals)
            self._metrics.snapshot(index.counts_by_category())
        if self._on_snapshot is not None:
            self._on_snapshot(index)
