"""Principals: the authenticated systems, their roles, the HER-ids they act for, their transports.

An ingress adapter authenticates a connection to a principal; what the principal
may then do is its roles, and which parties it may send as is decided by
:mod:`routing.authorisation` on the sender the register resolves. The principals
file holds a ``[[principal]]`` table each::

    [[principal]]
    name = "epj-a"                            # letters, digits, '.', '_', '-'
    roles = ["sender", "receiver"]            # default; also "operator", "monitor"
    her_ids = [8094866]                       # parties it acts for (and everything below them)
    token_hashes = ["sha256:9f86d0..."]       # HTTP bearer tokens, hashes only
    amqp_inbound_queue = "epj-a.to-hub"       # AMQP: where it sends ...
    amqp_error_queue = "epj-a.to-hub.error"   # ... and where transport errors go back
    file_inbox = "/srv/meldingshub/epj-a"     # file catalogue directory
    kafka_principal = "User:epj-a"            # its KafkaUser; it writes hub.ingress.<name>

Only ``name`` and ``her_ids`` are required (``sender_her_ids`` is read as the same).
A file that cannot be read or names no principal is an error, never an open hub.
"""

import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from access.tokens import TOKEN_HASH_PREFIX, token_hash
from hubcore.errors import MeldingshubError
from schemas.identifiers import MAX_HER_ID, parse_her_id

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
"""A principal's name: safe in a Kafka topic name, a directory and a metric-free log field."""

DELIVERY_QUEUE = re.compile(r"[0-9]+_(async|sync|error)")
"""AMQP queue names delivery and NHN's profile use for receivers; no principal may consume one."""


class PrincipalsError(MeldingshubError):
    """The principals file is missing, malformed or unsafe."""


class Role(StrEnum):
    """What a principal may do; each API requires one."""

    SENDER = "sender"
    """Submit messages and read their status."""
    RECEIVER = "receiver"
    """Read the mailbox of its own HER-ids."""
    OPERATOR = "operator"
    """Console, statistics, register look-ups and dead letters."""
    MONITOR = "monitor"
    """Statistics export (the e-helsemonitor's jobs)."""


DEFAULT_ROLES = frozenset({Role.SENDER, Role.RECEIVER})
"""An EPJ system sends and receives; operator and monitor are never given by default."""


@dataclass(frozen=True, slots=True)
class Principal:
    """One authenticated system: its name, roles, the HER-ids it acts for and its transports."""

    name: str
    her_ids: frozenset[int]
    _: KW_ONLY
    roles: frozenset[Role] = DEFAULT_ROLES
    token_hashes: frozenset[str] = field(default=frozenset(), repr=False)
    amqp_inbound_queue: str | None = None
    amqp_error_queue: str | None = None
    file_inbox: Path | None = None
    kafka_principal: str | None = None

    def has(self, role: Role) -> bool:
        """True when the principal was given ``role``."""
        return role in self.roles

    def kafka_topic(self, prefix: str) -> str:
        """The principal's own ingress topic ``<prefix><name>`` (the prefix is an ingress
        setting); only its KafkaUser may write it."""
        return prefix + self.name


class Principals:
    """The configured principals, looked up by name, token, AMQP queue or Kafka topic.

    ``open_mode`` is the explicit demo mode of an embedded hub: no principal is
    needed to send. Empty and not open means nobody may do anything.
    """

    def __init__(self, principals: Iterable[Principal] = (), *, open_mode: bool = False) -> None:
        self.open_mode = open_mode
        self._by_name: Mapping[str, Principal] = {p.name: p for p in principals}
        self._by_token = {h: p for p in self._by_name.values() for h in p.token_hashes}

    @classmethod
    def open(cls) -> "Principals":
        """The demo mode of an embedded hub: every sender accepted, no credentials."""
        return cls((), open_mode=True)

    def get(self, name: str | None) -> Principal | None:
        """The principal called ``name``, if configured."""
        return self._by_name.get(name) if name else None

    def authenticate(self, token: str) -> Principal | None:
        """The principal a bearer token belongs to, or ``None`` for an unknown token."""
        return self._by_token.get(token_hash(token)) if token else None

    def for_kafka_topic(self, topic: str, prefix: str) -> Principal | None:
        """The principal whose own ingress topic ``topic`` is."""
        if not topic.startswith(prefix):
            return None
        return self._by_name.get(topic.removeprefix(prefix))

    def __iter__(self) -> Iterator[Principal]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def to_toml(self) -> str:
        """The principals as the file format; :func:`parse_principals` reads it back unchanged."""
        lines = [
            "# meldingshub principals: who may use the hub, in which roles, for which HER-ids.",
            "# Bearer tokens are stored as hashes only; `meldingshub credentials add` makes them.",
        ]
        for principal in self:
            lines += ["", "[[principal]]", f"name = {_toml_str(principal.name)}"]
            roles = ", ".join(_toml_str(r.value) for r in sorted(principal.roles))
            lines.append(f"roles = [{roles}]")
            lines.append(f"her_ids = [{', '.join(str(h) for h in sorted(principal.her_ids))}]")
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


def read_principals(path: Path) -> Principals:
    """The principals of a TOML file; any problem is a :class:`PrincipalsError` naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PrincipalsError(f"cannot read principals file {path}: {type(exc).__name__}") from None
    return parse_principals(text, str(path))


def parse_principals(text: str, source: str = "principals") -> Principals:
    """Parse and check the ``[[principal]]`` tables; refuses a file with none."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PrincipalsError(f"{source} is not valid TOML: {exc}") from None
    entries = data.get("principal", [])
    if not isinstance(entries, list) or not entries:
        raise PrincipalsError(
            f"{source} names no [[principal]]: the hub does not run without principals "
            "(add one with `meldingshub credentials add`)"
        )
    principals = [_parse_entry(source, n, e) for n, e in enumerate(entries, start=1)]
    _check_unique(source, principals)
    return Principals(principals)


def _check_unique(source: str, principals: list[Principal]) -> None:
    """Names, AMQP queues, inboxes and Kafka users each belong to one principal only."""
    owner: dict[tuple[str, str], int] = {}
    for number, p in enumerate(principals):
        keys = [("name", p.name)]
        keys += [("AMQP queue", q) for q in (p.amqp_inbound_queue, p.amqp_error_queue) if q]
        keys += [("file_inbox", str(p.file_inbox))] if p.file_inbox else []
        keys += [("kafka_principal", p.kafka_principal)] if p.kafka_principal else []
        keys += [("token hash", h) for h in sorted(p.token_hashes)]
        for key in keys:
            if owner.setdefault(key, number) != number:
                raise PrincipalsError(
                    f"{source}: {key[0]} {key[1]!r} is configured for more than one principal"
                )


def _optional_str(source: str, name: str, entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or not value.isprintable():
        raise PrincipalsError(f"{source}: principal {name!r} has {key} that is not a text")
    return value


def _her_ids(source: str, name: str, entry: Mapping[str, Any]) -> frozenset[int]:
    her_ids = entry.get("her_ids", entry.get("sender_her_ids"))
    if (
        not isinstance(her_ids, list)
        or not her_ids
        or not all(type(h) is int and parse_her_id(h) == h for h in her_ids)
    ):
        raise PrincipalsError(
            f"{source}: principal {name!r} needs her_ids = [HER-ids], "
            f"each a whole number from 1 to {MAX_HER_ID}"
        )
    return frozenset(her_ids)


def _roles(source: str, name: str, entry: Mapping[str, Any]) -> frozenset[Role]:
    roles = entry.get("roles")
    if roles is None:
        return DEFAULT_ROLES
    known = {r.value for r in Role}
    if not isinstance(roles, list) or not roles or not all(r in known for r in roles):
        raise PrincipalsError(
            f"{source}: principal {name!r} needs roles = [...] from {', '.join(sorted(known))}"
        )
    return frozenset(Role(r) for r in roles)


_KEYS = frozenset(
    {
        "name",
        "roles",
        "her_ids",
        "sender_her_ids",
        "token_hashes",
        "amqp_inbound_queue",
        "amqp_error_queue",
        "file_inbox",
        "kafka_principal",
    }
)


def _parse_entry(source: str, number: int, entry: Mapping[str, Any]) -> Principal:
    if not isinstance(entry, Mapping):
        raise PrincipalsError(f"{source}: principal #{number} is not a table")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:  # a misspelt key must not silently fall back to a default (say, roles)
        raise PrincipalsError(
            f"{source}: principal #{number} has unknown key {unknown[0]!r}; "
            f"known keys: {', '.join(sorted(_KEYS))}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise PrincipalsError(
            f"{source}: principal #{number} needs a name of letters, digits, '.', '_' or '-' "
            "(at most 100, starting with a letter or digit)"
        )
    hashes = entry.get("token_hashes", [])
    if not isinstance(hashes, list) or not all(
        isinstance(h, str) and h.startswith(TOKEN_HASH_PREFIX) for h in hashes
    ):
        raise PrincipalsError(
            f'{source}: principal {name!r} needs token_hashes = ["sha256:<hex>", ...] '
            "(hashes only; `meldingshub credentials add` creates tokens)"
        )
    queues = [
        _optional_str(source, name, entry, key)
        for key in ("amqp_inbound_queue", "amqp_error_queue")
    ]
    for queue in queues:
        if queue is not None and DELIVERY_QUEUE.fullmatch(queue):
            raise PrincipalsError(
                f"{source}: principal {name!r} names AMQP queue {queue!r}, a receiver's "
                "delivery queue (<HerId>_async|_sync|_error); give it a queue of its own"
            )
    inbox = _optional_str(source, name, entry, "file_inbox")
    return Principal(
        name,
        _her_ids(source, name, entry),
        roles=_roles(source, name, entry),
        token_hashes=frozenset(hashes),
        amqp_inbound_queue=queues[0],
        amqp_error_queue=queues[1],
        file_inbox=Path(inbox) if inbox else None,
        kafka_principal=_optional_str(source, name, entry, "kafka_principal"),
    )
