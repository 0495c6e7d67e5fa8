"""What the console needs, as plain callables the composition root provides.

The console sits in ``broker_adapters``; replaying a dead letter, reading
``hub.rejected`` and asking the process how it is are done above it
(``meldingshub``), so they come in as functions rather than imports.
"""

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from access.principals_file import PrincipalsFile
from addressregister.index import RegisterIndex
from hubstats.store import StatisticsStore
from schemas.records import RejectedMessage


@dataclass(frozen=True, slots=True)
class HealthItem:
    """One line of the health page: a check, whether it passes (``None``: unknown), and a
    short safe detail (a count, a lag)."""

    name: str
    ok: bool | None
    detail: str = ""
    source: str = ""
    """Where the answer comes from (a readiness check, a gauge, the register)."""


ReadDeadLetters = Callable[[], Sequence[RejectedMessage]]
"""The newest dead letters on ``hub.rejected`` (a bounded number), without their documents."""
ReadDeadLetter = Callable[[uuid.UUID], Sequence[RejectedMessage]]
"""One message's dead letters (one per receiver given up), with their documents: found near
the time the message's events say it was rejected, not by reading the whole topic."""
Replay = Callable[[Sequence[uuid.UUID], str], Mapping[uuid.UUID, uuid.UUID]]
"""Replay the dead letters with these hub message ids for the named operator; returns
original id -> the id it was written back under."""
ReadDocument = Callable[[uuid.UUID], tuple[bytes, str] | None]
"""The document of a message and where it was found, or ``None`` when no longer reachable."""


@dataclass(frozen=True, slots=True)
class ConsoleDeps:
    """Everything the console's routes use."""

    principals: PrincipalsFile
    store: StatisticsStore
    register: Callable[[], RegisterIndex]
    dead_letters: ReadDeadLetters
    dead_letter: ReadDeadLetter
    replay: Replay
    document: ReadDocument
    health: Callable[[], Sequence[HealthItem]]
    session_key: bytes = field(repr=False)
    """Signs session cookies and CSRF tokens (random per process unless configured)."""
    session_ttl: timedelta = timedelta(hours=8)
