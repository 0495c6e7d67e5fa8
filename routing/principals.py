"""Principals: the authenticated systems, what each may send for and how it reaches the hub.

An ingress adapter authenticates a connection to a principal name; the router
checks that the envelope's sender belongs to that principal. A mismatch is a
spoofing attempt and is rejected, never routed.

One TOML file is the source of truth for both, a ``[[principal]]`` table each::

    [[principal]]
    name = "epj-a"
    sender_her_ids = [8094866, 8094867]
    token_hashes = ["sha256:9f86d0..."]      # HTTP bearer tokens, hashes only
    amqp_inbound_queue = "8094866_async"      # AMQP: where it sends ...
    amqp_error_queue = "8094866_error"        # ... and where transport errors go back
    file_inbox = "/srv/meldingshub/epj-a"     # file catalogue directory
    kafka_principal = "User:epj-a"            # SASL principal of its Kafka producers

Only ``name`` and ``sender_her_ids`` are required. Tokens are stored as SHA-256
hashes: a token is 256 random bits, so a plain hash cannot be reversed and is
enough to look it up.
"""

import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import structlog

from meldingshub.errors import MeldingshubError

log = structlog.get_logger(__name__)

TOKEN_HASH_PREFIX = "sha256:"  # noqa: S105  (a label, not a secret)
_TOKEN_PREFIX = "mhub_"  # noqa: S105


class PrincipalsError(MeldingshubError):
    """The principals file is missing or malformed."""


def token_hash(token: str) -> str:
    """The form a bearer token is stored and looked up in: ``sha256:<hex>``."""
    return TOKEN_HASH_PREFIX + hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh bearer token: 256 random bits, URL-safe, with a recognisable prefix."""
    return _TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Principal:
    """One authenticated system: its name, the HER-ids it may send for and its transports."""

    name: str
    sender_her_ids: frozenset[int]
    token_hashes: frozenset[str] = field(default=frozenset(), repr=False)
    amqp_inbound_queue: str | None = None
    amqp_error_queue: str | None = None
    file_inbox: Path | None = None
    kafka_principal: str | None = None

    def may_send_for(self, her_ids: Iterable[int | None]) -> bool:
        """True when any of the sender's HER-ids (organisation, service, person) is ours."""
        return any(her_id in self.sender_her_ids for her_id in her_ids if her_id is not None)


class Principals:
    """The configured principals; empty means open mode (every sender allowed, demo only)."""

    def __init__(self, principals: Iterable[Principal] = ()) -> None:
        self._by_name: Mapping[str, Principal] = {p.name: p for p in principals}
        self._by_token = {h: p for p in self._by_name.values() for h in p.token_hashes}
        self._by_kafka = {p.kafka_principal: p for p in self._by_name.values() if p.kafka_principal}

    @property
    def open(self) -> bool:
        """True when no principals are configured and sender checks are skipped."""
        return not self._by_name

    def get(self, name: str | None) -> Principal | None:
        """The principal called ``name``, if configured."""
        return self._by_name.get(name) if name else None

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token belongs to, or ``None`` for an unknown token."""
        return self._by_token.get(token_hash(token)) if token else None

    def for_kafka_principal(self, kafka_principal: str | None) -> Principal | None:
        """The principal whose Kafka producers authenticate as ``kafka_principal``."""
        return self._by_kafka.get(kafka_principal) if kafka_principal else None

    def __iter__(self) -> Iterator[Principal]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @classmethod
    def from_file(cls, path: Path) -> "Principals":
        """Read the ``[[principal]]`` tables of a TOML file (see the module docstring)."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PrincipalsError(f"cannot read principals file {path}: {exc}") from None
        principals = [
            _parse_entry(path, number, entry)
            for number, entry in enumerate(data.get("principal", []), start=1)
        ]
        names = [p.name for p in principals]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise PrincipalsError(f"{path}: principal {duplicated[0]!r} is configured twice")
        return cls(principals)

    def to_toml(self) -> str:
        """The principals as the TOML file format; ``from_file`` reads it back unchanged."""
        lines = [
            "# meldingshub principals: who may send, for which HER-ids, through which transports.",
            "# Bearer tokens are stored as hashes only; `meldingshub credentials add` makes them.",
        ]
        for principal in self:
            lines += ["", "[[principal]]", f"name = {_toml_str(principal.name)}"]
            her_ids = ", ".join(str(h) for h in sorted(principal.sender_her_ids))
            lines.append(f"sender_her_ids = [{her_ids}]")
            if principal.token_hashes:
                lines.append("token_hashes = [")
                lines += [f"    {_toml_str(h)}," for h in sorted(principal.token_hashes)]
                lines.append("]")
            optional = {
                "amqp_inbound_queue": principal.amqp_inbound_queue,
                "amqp_error_queue": principal.amqp_error_queue,
                "file_inbox": str(principal.file_inbox) if principal.file_inbox else None,
                "kafka_principal": principal.kafka_principal,
            }
            lines += [f"{key} = {_toml_str(value)}" for key, value in optional.items() if value]
        return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes with ASCII output are valid TOML)."""
    return json.dumps(value, ensure_ascii=True)


def _optional_str(path: Path, name: str, entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise PrincipalsError(f"{path}: principal {name!r} has {key} that is not a text")
    return value


def _parse_entry(path: Path, number: int, entry: Mapping[str, Any]) -> Principal:
    name, her_ids = entry.get("name"), entry.get("sender_her_ids")
    if not isinstance(name, str) or not name:
        raise PrincipalsError(f"{path}: principal #{number} has no name")
    if not isinstance(her_ids, list) or not all(isinstance(h, int) for h in her_ids):
        raise PrincipalsError(f"{path}: principal {name!r} needs sender_her_ids = [integers]")
    hashes = entry.get("token_hashes", [])
    if not isinstance(hashes, list) or not all(
        isinstance(h, str) and h.startswith(TOKEN_HASH_PREFIX) for h in hashes
    ):
        raise PrincipalsError(
            f'{path}: principal {name!r} needs token_hashes = ["sha256:<hex>", ...] '
            "(hashes only; `meldingshub credentials add` creates tokens)"
        )
    inbox = _optional_str(path, name, entry, "file_inbox")
    return Principal(
        name,
        frozenset(her_ids),
        token_hashes=frozenset(hashes),
        amqp_inbound_queue=_optional_str(path, name, entry, "amqp_inbound_queue"),
        amqp_error_queue=_optional_str(path, name, entry, "amqp_error_queue"),
        file_inbox=Path(inbox) if inbox else None,
        kafka_principal=_optional_str(path, name, entry, "kafka_principal"),
    )


def add_token(path: Path, name: str, her_ids: Iterable[int] = ()) -> str:
    """Create a bearer token for principal ``name`` (created if new); return it, store its hash.

    ``her_ids`` are added to the principal's sender HER-ids; a new principal needs at
    least one. The file is replaced atomically and readable by its owner only.
    """
    existing = Principals.from_file(path) if path.exists() else Principals()
    token = new_token()
    current = existing.get(name)
    extra = frozenset(her_ids)
    if current is None:
        if not extra:
            raise PrincipalsError(
                f"principal {name!r} is new: give the HER-ids it may send for (--her-id)"
            )
        updated = Principal(name, extra, token_hashes=frozenset({token_hash(token)}))
    else:
        updated = replace(
            current,
            sender_her_ids=current.sender_her_ids | extra,
            token_hashes=current.token_hashes | {token_hash(token)},
        )
    others = [p for p in existing if p.name != name]
    _write_atomically(path, Principals([*others, updated]).to_toml())
    return token


def _write_atomically(path: Path, text: str) -> None:
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
    """The principals file, re-read when it changes, so new credentials work without a restart.

    A change that does not parse is logged and ignored: the last good principals stay
    in force. ``path`` ``None`` means no file (open mode, or the fixed ``principals``).
    """

    def __init__(
        self,
        path: Path | None,
        check_interval_s: float = 2.0,
        principals: Principals | None = None,
    ) -> None:
        self.path = path
        self._interval = check_interval_s
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._stamp = self._stamp_of()
        self._principals = principals or (Principals.from_file(path) if path else Principals())

    @classmethod
    def fixed(cls, principals: Principals) -> "PrincipalsFile":
        """Principals that never change (tests, embedded demo)."""
        return cls(None, principals=principals)

    def _stamp_of(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def current(self) -> Principals:
        """The principals in force now (re-read at most every ``check_interval_s``)."""
        if self.path is None or time.monotonic() - self._checked < self._interval:
            return self._principals
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._stamp_of()
            if stamp is not None and stamp != self._stamp:
                try:
                    self._principals = Principals.from_file(self.path)
                    self._stamp = stamp
                    log.info("principals reloaded", count=len(self._principals))
                except PrincipalsError as exc:
                    log.error("principals file changed but cannot be read", error=str(exc))
        return self._principals
