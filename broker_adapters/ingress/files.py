"""File catalogue ingress: a directory per principal, as many EPJ communication modules use.

A sender writes a document under any name that does not end in ``.xml`` and
renames it to ``*.xml`` when it is complete; only such files are picked up.
Each is moved to ``processing/`` (the claim), written to ``hub.inbound``, then
moved to ``done/`` — or to ``failed/`` with ``<name>.error.json`` beside it
saying why. Files still in ``processing/`` at start were claimed by a process
that died; they are sent again (the router de-duplicates by MsgId), so a file
is on ``hub.inbound`` at least once and never lost. One adapter process serves a
directory: the claim is a rename, not a lock shared between hosts.

Whatever fails unexpectedly for one file moves that file to ``failed/`` (reason
``unprocessable``) so it is not picked up again; a pass that fails as a whole is
logged and tried again at the next poll, so one file never stops the adapter.
"""

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from access.principals import Principal, Principals
from access.principals_file import PrincipalsFile
from broker_adapters.ingress.base import (
    Accepted,
    IngressAdapter,
    Outcome,
    RefusalReason,
    Refused,
    Submission,
)
from broker_adapters.ingress.gate import IngressGate
from hubcore.errors import describe

log = structlog.get_logger(__name__)

PROCESSING = "processing"
DONE = "done"
FAILED = "failed"
_CONFIRM_MARGIN_S = 5.0
_UNPROCESSABLE = "the hub could not take this file; it was not accepted"


@dataclass(frozen=True, slots=True)
class Inbox:
    """One principal's directory and its sub-directories."""

    principal: Principal
    path: Path

    @property
    def processing(self) -> Path:
        """Claimed files, not yet durably written."""
        return self.path / PROCESSING

    @property
    def done(self) -> Path:
        """Files durably written to ``hub.inbound``."""
        return self.path / DONE

    @property
    def failed(self) -> Path:
        """Files refused, each with ``<name>.error.json``."""
        return self.path / FAILED

    def prepare(self) -> None:
        """Create the directories."""
        for directory in (self.path, self.processing, self.done, self.failed):
            directory.mkdir(parents=True, exist_ok=True)


def _complete_documents(directory: Path) -> list[Path]:
    """``*.xml`` regular files in ``directory``, oldest first; hidden ones are being written."""
    found: list[tuple[int, str, Path]] = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if (
                entry.name.startswith(".")
                or not entry.name.lower().endswith(".xml")
                or not entry.is_file(follow_symlinks=False)
            ):
                continue
            try:
                found.append((entry.stat().st_mtime_ns, entry.name, Path(entry.path)))
            except FileNotFoundError:
                continue  # taken away meanwhile
    return [path for _mtime, _name, path in sorted(found)]


def _free_name(directory: Path, name: str) -> Path:
    """``directory/name``, or a unique variant when a file of that name is already there."""
    target = directory / name
    if not target.exists():
        return target
    stem, dot, suffix = name.rpartition(".")
    return directory / f"{stem}.{uuid.uuid4().hex[:8]}{dot}{suffix}"


class _Batch:
    """Outcomes of background writes, collected until all arrived or the deadline passed."""

    def __init__(self, size: int) -> None:
        self._outcomes: list[Outcome | None] = [None] * size
        self._missing = size
        self._condition = threading.Condition()

    def reporter(self, index: int) -> "_Report":
        return _Report(self, index)

    def put(self, index: int, outcome: Outcome) -> None:
        with self._condition:
            self._outcomes[index] = outcome
            self._missing -= 1
            self._condition.notify_all()

    def wait(self, timeout_s: float) -> list[Outcome | None]:
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while self._missing and time.monotonic() < deadline:
                self._condition.wait(max(0.0, deadline - time.monotonic()))
            return list(self._outcomes)


@dataclass(frozen=True, slots=True)
class _Report:
    batch: _Batch
    index: int

    def __call__(self, outcome: Outcome) -> None:
        self.batch.put(self.index, outcome)


class FileCatalogueIngress(IngressAdapter):
    """Polls every principal's inbox; moves each file to ``done/`` only after its durable write."""

    name = "ingress-file"
    transport = "file"

    def __init__(self, gate: IngressGate, principals: PrincipalsFile, root: Path) -> None:
        self._gate = gate
        self._principals = principals
        self._root = root
        settings = gate.settings
        self._poll_s = settings.file_poll_interval_s
        self._batch = settings.file_batch
        self._bytes = settings.in_flight_bytes
        self._max_bytes = gate.limits.max_bytes
        self._pause_s = float(settings.retry_after_s)
        self._write_wait_s = settings.write_timeout_s + _CONFIRM_MARGIN_S
        self._resume_at = 0.0
        self._running = threading.Event()
        self._inboxes_readable = True

    def ready(self) -> bool:
        """Polling, the last pass could read every inbox, and Kafka took the last writes."""
        return (
            self._running.is_set()
            and self._inboxes_readable
            and time.monotonic() >= self._resume_at
        )

    def run(self, stop: threading.Event) -> None:
        """Poll until ``stop`` is set, sending what earlier runs left in ``processing/`` first."""
        bound: Principals | None = None
        boxes: list[Inbox] = []
        self._running.set()
        try:
            while not stop.is_set():
                principals = self._principals.current()
                if principals is not bound:  # new or revoked principals: watch their inboxes
                    bound, boxes = principals, self._bind(principals)
                if time.monotonic() < self._resume_at:
                    stop.wait(min(self._poll_s, self._resume_at - time.monotonic()))
                    continue
                passes = [self._guarded_pass(box) for box in boxes]
                self._inboxes_readable = None not in passes
                moved = sum(n for n in passes if n is not None)
                if not moved:
                    stop.wait(self._poll_s)
        finally:
            self._running.clear()

    def _bind(self, principals: Principals) -> list[Inbox]:
        boxes = [Inbox(p, p.file_inbox or self._root / p.name) for p in principals]
        for box in boxes:
            box.prepare()
        if not boxes:
            log.warning("no principals configured: the file catalogue watches no directory")
        log.info("file catalogue watching", inboxes=len(boxes))
        return boxes

    def _guarded_pass(self, box: Inbox) -> int | None:
        """One pass; an unexpected error (an inbox gone or unreadable, a full disk, a bug) is
        logged and gives None, and the next poll retries."""
        try:
            return self._pass(box)
        except Exception as exc:
            log.error(
                "file catalogue pass failed", principal=box.principal.name, error=describe(exc)
            )
            return None

    def _pass(self, box: Inbox) -> int:
        """Send what is in ``processing/`` (left over or just claimed); return files finished."""
        claimed = _within_budget(_complete_documents(box.processing), self._batch, self._bytes)
        room = self._batch - len(claimed)
        budget = self._bytes - sum(_size(path) for path in claimed)
        fresh = _complete_documents(box.path) if room > 0 and budget > 0 else []
        for path in _within_budget(fresh, room, budget):
            target = box.processing / path.name
            if target.exists():
                continue  # the same name is still being processed; take it next time
            try:
                path.rename(target)
            except FileNotFoundError:
                continue
            claimed.append(target)
        if not claimed:
            return 0
        return self._send(box, claimed)

    def _send(self, box: Inbox, files: list[Path]) -> int:
        batch = _Batch(len(files))
        for index, path in enumerate(files):
            try:
                submission = self._read(box, path)
                if isinstance(submission, Refused):
                    batch.put(index, submission)
                    continue
                self._gate.submit_async(submission, batch.reporter(index))
            except Exception as exc:  # settle this file, go on with the others
                log.error("file could not be submitted", error=describe(exc))
                batch.put(index, Refused(RefusalReason.UNPROCESSABLE, _UNPROCESSABLE))
        finished = 0
        for path, result in zip(files, batch.wait(self._write_wait_s), strict=True):
            outcome = result or Refused(RefusalReason.BROKER_UNAVAILABLE, "no delivery report")
            try:
                if isinstance(outcome, Accepted):
                    path.rename(_free_name(box.done, path.name))
                elif outcome.transient:
                    self._resume_at = time.monotonic() + self._pause_s
                    continue
                else:
                    self._fail(box, path, outcome)
                finished += 1
            except OSError as exc:  # moved away meanwhile, or the disk is full: next pass
                log.error("file could not be moved", error=type(exc).__name__)
        if self._resume_at > time.monotonic():
            log.warning("file catalogue paused: Kafka does not take writes", inbox=str(box.path))
        return finished

    def _read(self, box: Inbox, path: Path) -> Submission | Refused:
        try:
            with path.open("rb") as handle:
                raw = handle.read(self._max_bytes + 1)
        except OSError as exc:
            return Refused(RefusalReason.BAD_REQUEST, f"cannot read the file: {exc.strerror}")
        if len(raw) > self._max_bytes:
            self._gate.count_received("file")
            refused = Refused(
                RefusalReason.TOO_LARGE, f"the file is over the limit of {self._max_bytes} bytes"
            )
            self._gate.count_refused("file", refused)
            return refused
        return Submission(
            raw=raw,
            principal=box.principal,
            adapter="file",
            received_at=datetime.now(UTC),
            transport_message_id=path.name,
            content_type="application/xml",
        )

    def _fail(self, box: Inbox, path: Path, refused: Refused) -> None:
        target = _free_name(box.failed, path.name)
        report = {
            "file": path.name,
            "principal": box.principal.name,
            "reason": refused.reason.value,
            "detail": refused.detail,
            "failedAt": datetime.now(UTC).isoformat(),
        }
        error_file = target.with_name(target.name + ".error.json")
        temporary = target.with_name(f".{target.name}.error.json.tmp")
        temporary.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        temporary.replace(error_file)
        path.rename(target)
        # No file name in the log: senders choose names, and some put patient data in them.
        log.info("file refused", principal=box.principal.name, reason=refused.reason.value)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _within_budget(paths: list[Path], count: int, budget: int) -> list[Path]:
    """The first ``paths``, at most ``count`` and about ``budget`` bytes (at least one)."""
    taken: list[Path] = []
    for path in paths[:count]:
        size = _size(path)
        if taken and size > budget:
            break
        taken.append(path)
        budget -= size
    return taken
