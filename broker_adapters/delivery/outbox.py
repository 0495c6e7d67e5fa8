"""File outbox endpoint: ``<outbox root>/<receiver dir>/<MsgId>.xml``, written atomically.

The file is written under a temporary name that receivers ignore (a leading
dot), flushed and fsynced, then renamed into place and the directory fsynced,
so a reader never sees a partial document and a crash never leaves one. A
repeated delivery of the same message finds the same content and is a no-op;
a different message that reuses a MsgId gets the hub message id added to its
name instead of overwriting. A writer killed mid-write leaves only its dot-file,
which the first delivery to that directory after a restart sweeps once it is
older than :data:`STALE_TEMPORARY_S`.
"""

import contextlib
import os
import re
import time
import uuid
from pathlib import Path

from addressregister.model import EndpointKind
from broker_adapters.delivery.base import Attempt, DeliveryEndpoint, Failed, HandedOver, Handover

STALE_TEMPORARY_S = 600.0
"""Age after which a temporary file is a crashed writer's (no write takes this long)."""

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SAFE_DIR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}(/[A-Za-z0-9][A-Za-z0-9._-]{0,127})*$")


class FileOutboxEndpoint(DeliveryEndpoint):
    """Writes each message as one file in the receiver's directory under ``root``."""

    kind = EndpointKind.FILE

    def __init__(self, root: Path) -> None:
        self._root = root
        self._swept: set[Path] = set()

    def directory_for(self, handover: Handover) -> Path | None:
        """The receiver's directory; None when the register's address would leave the root."""
        relative = handover.address or str(handover.receiver_her_id)
        if not _SAFE_DIR.match(relative) or ".." in relative.split("/"):
            return None
        return self._root / relative

    def deliver(self, handover: Handover) -> Attempt:
        """Write the file (or find it already written)."""
        directory = self.directory_for(handover)
        if directory is None:
            return Failed("file outbox address is not a relative directory name", permanent=True)
        message = handover.message
        stem = message.msg_id if message.msg_id and _SAFE_NAME.match(message.msg_id) else None
        names = [f"{stem}.xml"] if stem else []
        names.append(f"{stem or 'message'}-{message.hub_message_id}.xml")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if directory not in self._swept:
                _sweep(directory)
                self._swept.add(directory)
            for name in names:
                target = directory / name
                if not target.exists():
                    _write_atomically(target, message.payload)
                    return HandedOver()
                if target.read_bytes() == message.payload:
                    return HandedOver()  # delivered before (a retry after a crash)
        except OSError as exc:
            return Failed(f"file outbox not writable ({exc.strerror or type(exc).__name__})")
        return Failed("file outbox holds a different message under this name", permanent=True)


def _sweep(directory: Path) -> None:
    cutoff = time.time() - STALE_TEMPORARY_S
    for leftover in directory.glob(".*.tmp"):
        with contextlib.suppress(OSError):  # gone already, or not ours to remove
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        with temporary.open("xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
