"""The principals file on disk: written atomically, re-read when it changes, never left open.

New credentials and revocations take effect without a restart. A change that
cannot be read, or that names no principal, is refused: the last good set stays
in force, the error is logged and :attr:`PrincipalsFile.valid` turns false (a
metric and ``/readyz`` report it). Adapters that hold principals in long-lived
bindings (AMQP consumers, file inboxes) ask :meth:`PrincipalsFile.current` on
every poll, so a revoked principal stops at the next check.
"""

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import structlog

from access.principals import (
    DEFAULT_ROLES,
    Principal,
    Principals,
    PrincipalsError,
    Role,
    parse_principals,
    read_principals,
)
from access.tokens import new_token, token_hash

log = structlog.get_logger(__name__)

StateObserver = Callable[[bool, int], None]
"""Told ``(valid, principal count)`` after every load (metrics)."""


def add_credentials(
    path: Path, name: str, her_ids: Iterable[int] = (), roles: Iterable[Role] = ()
) -> str:
    """Create a bearer token for principal ``name`` (created if new); return it, store its hash.

    ``her_ids`` and ``roles`` are added to the principal's; a new principal needs at
    least one HER-id and gets the default roles when none are given. The file is
    replaced atomically and readable by its owner only.
    """
    existing = list(read_principals(path)) if path.exists() else []
    token = new_token()
    current = next((p for p in existing if p.name == name), None)
    extra_ids, extra_roles = frozenset(her_ids), frozenset(roles)
    if current is None:
        if not extra_ids:
            raise PrincipalsError(
                f"principal {name!r} is new: give the HER-ids it acts for (--her-id)"
            )
        updated = Principal(
            name,
            extra_ids,
            roles=extra_roles or DEFAULT_ROLES,
            token_hashes=frozenset({token_hash(token)}),
        )
    else:
        updated = replace(
            current,
            her_ids=current.her_ids | extra_ids,
            roles=current.roles | extra_roles,
            token_hashes=current.token_hashes | {token_hash(token)},
        )
    others = [p for p in existing if p.name != name]
    text = Principals([*others, updated]).to_toml()
    parse_principals(text, str(path))  # the file written is one the hub accepts
    write_atomically(path, text)
    return token


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, mode 0600, synced to disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


class PrincipalsFile:
    """The principals in force: read at start (an error stops the start), re-read on change."""

    def __init__(
        self,
        path: Path | None,
        check_interval_s: float = 2.0,
        principals: Principals | None = None,
        observe: StateObserver | None = None,
    ) -> None:
        if path is None and principals is None:
            raise PrincipalsError("a principals file or fixed principals are required")
        self.path = path
        self._interval = check_interval_s
        self._lock = threading.Lock()
        self._observe = observe
        self._checked = time.monotonic()
        self._stamp = self._stamp_of()
        self._principals = principals if principals is not None else read_principals(path)  # type: ignore[arg-type]
        self.valid = True
        self._report()

    @classmethod
    def fixed(cls, principals: Principals) -> "PrincipalsFile":
        """Principals that never change (tests, the embedded demo's open mode)."""
        return cls(None, principals=principals)

    def _stamp_of(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return (-1, -1, -1)  # a removed file is a change, and an error
        return stat.st_mtime_ns, stat.st_size, stat.st_ino

    def _report(self) -> None:
        if self._observe is not None:
            self._observe(self.valid, len(self._principals))

    def current(self) -> Principals:
        """The principals in force now (re-read at most every ``check_interval_s``)."""
        if self.path is None or time.monotonic() - self._checked < self._interval:
            return self._principals
        with self._lock:
            if time.monotonic() - self._checked < self._interval:
                return self._principals
            self._checked = time.monotonic()
            stamp = self._stamp_of()
            if stamp != self._stamp:
                self._stamp = stamp
                self._reload()
        return self._principals

    def _reload(self) -> None:
        assert self.path is not None
        try:
            self._principals = read_principals(self.path)
        except PrincipalsError as exc:
            self.valid = False
            log.error(
                "principals file changed but is refused; the last good principals stay in force",
                error=str(exc),
                principals=len(self._principals),
            )
        else:
            self.valid = True
            log.info("principals reloaded", principals=len(self._principals))
        self._report()
