"""An immutable, in-memory snapshot of the register with everything resolution needs precomputed.

Building walks each party's parent chain once: its top-level organisation, its
ancestors, the nearest party with an endpoint, the effective collaboration
profile (inherited when a party declares none), the combined active flag and
validity window of the chain, and the statistics category. Resolution then
costs a few dictionary and set look-ups and returns prebuilt values, so a
router can make millions of decisions per second without I/O. A change builds
a new snapshot; readers keep the one they hold.
"""

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from addressregister.categories import CategoryTable
from addressregister.model import CommunicationParty, MessageProfile, PartyKind, with_category
from addressregister.results import Resolution, SenderCheck
from schemas.vocabulary import AddressingMode, Category

log = structlog.get_logger(__name__)

ALWAYS_ACCEPTED = frozenset({"APPREC"})
"""Every party takes application receipts: a sender that asks for one must be able to get it."""

_BEGINNING = datetime.min.replace(tzinfo=UTC)
_END = datetime.max.replace(tzinfo=UTC)


class _Entry:
    """Precomputed facts of one party (internal to the index and resolution)."""

    __slots__ = (
        "active",
        "ancestors",
        "category",
        "party",
        "receive_any",
        "receive_types",
        "receive_versioned",
        "receiver",
        "resolutions",
        "root",
        "send_any",
        "send_types",
        "send_versioned",
        "sender_checks",
        "valid_from",
        "valid_to",
    )

    party: CommunicationParty
    category: Category
    root: int
    ancestors: frozenset[int]
    receiver: CommunicationParty | None
    active: bool
    valid_from: datetime
    valid_to: datetime
    receive_any: frozenset[str]
    receive_versioned: frozenset[tuple[str, str]]
    receive_types: frozenset[str]
    send_any: frozenset[str]
    send_versioned: frozenset[tuple[str, str]]
    send_types: frozenset[str]
    resolutions: dict[AddressingMode, Resolution]
    sender_checks: dict[AddressingMode, SenderCheck]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results, ordered by HER-id."""

    total: int
    offset: int
    items: tuple[CommunicationParty, ...]


class RegisterIndex:
    """Immutable snapshot of the register: O(1) look-ups, no I/O."""

    __slots__ = (
        "_by_business_type",
        "_by_category",
        "_by_municipality",
        "_by_org_number",
        "_by_service_code",
        "_children",
        "_entries",
        "_org_number_target",
        "_sorted",
        "categories",
        "orphans",
    )

    def __init__(
        self, parties: Iterable[CommunicationParty], categories: CategoryTable | None = None
    ) -> None:
        self.categories = categories or CategoryTable.default()
        raw = {party.her_id: party for party in parties}
        self._entries: dict[int, _Entry] = {}
        self.orphans: tuple[int, ...] = ()
        orphans: list[int] = []
        for her_id in raw:
            self._build(her_id, raw, orphans, ())
        self.orphans = tuple(sorted(orphans))
        if orphans:
            log.warning("register parties with a missing or cyclic parent", count=len(orphans))
        self._sorted = tuple(self._entries[h].party for h in sorted(self._entries))
        self._index_secondary()

    @classmethod
    def empty(cls, categories: CategoryTable | None = None) -> "RegisterIndex":
        """A register without parties (before the topic has been read)."""
        return cls((), categories)

    # -- look-ups -------------------------------------------------------------

    def get(self, her_id: int) -> CommunicationParty | None:
        """The party with ``her_id`` (its ``category`` filled in), or None."""
        entry = self._entries.get(her_id)
        return entry.party if entry is not None else None

    def __contains__(self, her_id: object) -> bool:
        return her_id in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[CommunicationParty]:
        """Every party, ordered by HER-id."""
        return iter(self._sorted)

    def category(self, her_id: int) -> Category:
        """The statistics category of ``her_id``; ``ukjent`` when it is not in the register."""
        entry = self._entries.get(her_id)
        return entry.category if entry is not None else Category.UKJENT

    def organisation_of(self, her_id: int) -> int | None:
        """HER-id of the top-level organisation ``her_id`` belongs to."""
        entry = self._entries.get(her_id)
        return entry.root if entry is not None else None

    def ancestors_of(self, her_id: int) -> frozenset[int]:
        """HER-ids of every party above ``her_id`` (empty for a top-level or unknown party)."""
        entry = self._entries.get(her_id)
        return entry.ancestors if entry is not None else frozenset()

    def receiving_party(self, her_id: int) -> CommunicationParty | None:
        """The party that receives for ``her_id``: itself or its nearest ancestor with one."""
        entry = self._entries.get(her_id)
        return entry.receiver if entry is not None else None

    def children(self, her_id: int) -> tuple[CommunicationParty, ...]:
        """Parties whose parent is ``her_id``, ordered by HER-id."""
        return self._children.get(her_id, ())

    def by_organisation_number(self, number: str) -> tuple[CommunicationParty, ...]:
        """Every party with this organisation number, ordered by HER-id."""
        return self._by_org_number.get(number, ())

    def organisation_for_number(self, number: str) -> int | None:
        """The one top-most party with this organisation number; None when none or several."""
        return self._org_number_target.get(number)

    def in_category(self, category: Category) -> tuple[CommunicationParty, ...]:
        """Every party of a statistics category, ordered by HER-id."""
        return self._by_category.get(category, ())

    def counts_by_category(self) -> dict[Category, int]:
        """How many parties each category has (every category present, zero included)."""
        return {category: len(self._by_category.get(category, ())) for category in Category}

    def counts_by_kind(self) -> dict[PartyKind, int]:
        """How many parties of each kind."""
        counts = Counter(party.kind for party in self._sorted)
        return {kind: counts.get(kind, 0) for kind in PartyKind}

    def search(
        self,
        *,
        name: str | None = None,
        organisation_number: str | None = None,
        municipality: str | None = None,
        business_type: str | None = None,
        service_code: str | None = None,
        kind: PartyKind | None = None,
        category: Category | None = None,
        active: bool | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> SearchPage:
        """Parties matching every given criterion (``name``: case-insensitive substring)."""
        candidates: Iterable[CommunicationParty] = self._sorted
        narrowest: tuple[CommunicationParty, ...] | None = None
        for chosen in (
            self._by_org_number.get(organisation_number, ()) if organisation_number else None,
            self._by_service_code.get(service_code, ()) if service_code else None,
            self._by_municipality.get(municipality, ()) if municipality else None,
            self._by_business_type.get(business_type, ()) if business_type else None,
            self._by_category.get(category, ()) if category else None,
        ):
            if chosen is not None and (narrowest is None or len(chosen) < len(narrowest)):
                narrowest = chosen
        if narrowest is not None:
            candidates = narrowest
        needle = name.casefold() if name else None
        matches = [
            party
            for party in candidates
            if (needle is None or needle in party.name.casefold())
            and (organisation_number is None or party.organisation_number == organisation_number)
            and (municipality is None or party.municipality == municipality)
            and (business_type is None or party.business_type == business_type)
            and (service_code is None or party.service_code == service_code)
            and (kind is None or party.kind is kind)
            and (category is None or party.category is category)
            and (active is None or party.active is active)
        ]
        offset = max(0, offset)
        return SearchPage(len(matches), offset, tuple(matches[offset : offset + max(0, limit)]))

    # -- changes ----------------------------------------------------------------

    def with_changes(
        self, upserts: Iterable[CommunicationParty] = (), removals: Iterable[int] = ()
    ) -> "RegisterIndex":
        """A new snapshot with ``upserts`` added or replaced and ``removals`` gone."""
        parties = {party.her_id: party for party in self._sorted}
        for her_id in removals:
            parties.pop(her_id, None)
        for party in upserts:
            parties[party.her_id] = party
        return RegisterIndex(parties.values(), self.categories)

    # -- building ---------------------------------------------------------------

    def _build(
        self,
        her_id: int,
        raw: dict[int, CommunicationParty],
        orphans: list[int],
        path: tuple[int, ...],
    ) -> _Entry | None:
        done = self._entries.get(her_id)
        if done is not None:
            return done
        party = raw.get(her_id)
        if party is None:
            return None
        parent: _Entry | None = None
        if party.parent_her_id is not None:
            if party.parent_her_id in path or party.parent_her_id == her_id:
                orphans.append(her_id)  # a cycle: treat this party as top-level
            else:
                parent = self._build(party.parent_her_id, raw, orphans, (*path, her_id))
                if parent is None and her_id not in orphans:
                    orphans.append(her_id)
        entry = self._entry(party, parent)
        self._entries[her_id] = entry
        return entry

    def _entry(self, party: CommunicationParty, parent: _Entry | None) -> _Entry:
        entry = _Entry()
        category = self.categories.own_category(party)
        if category is None:
            category = parent.category if parent is not None else Category.ANNET
        party = with_category(party, category) if party.category is not category else party
        entry.party = party
        entry.category = category
        if parent is None:
            entry.root, entry.ancestors = party.her_id, frozenset()
            entry.active = party.active
            entry.valid_from = party.valid_from or _BEGINNING
            entry.valid_to = party.valid_to or _END
        else:
            entry.root = parent.root
            entry.ancestors = parent.ancestors | {parent.party.her_id}
            entry.active = party.active and parent.active
            entry.valid_from = max(party.valid_from or _BEGINNING, parent.valid_from)
            entry.valid_to = min(party.valid_to or _END, parent.valid_to)
        entry.receiver = (
            party if party.endpoint is not None else (parent.receiver if parent else None)
        )
        if party.receives or parent is None:
            any_, versioned, types = _profile(party.receives)
            entry.receive_any = any_ | ALWAYS_ACCEPTED
            entry.receive_versioned, entry.receive_types = versioned, types | ALWAYS_ACCEPTED
        else:
            entry.receive_any, entry.receive_versioned = (
                parent.receive_any,
                parent.receive_versioned,
            )
            entry.receive_types = parent.receive_types
        if party.sends or parent is None:
            any_, versioned, types = _profile(party.sends)
            entry.send_any = any_ | ALWAYS_ACCEPTED
            entry.send_versioned, entry.send_types = versioned, types | ALWAYS_ACCEPTED
        else:
            entry.send_any, entry.send_versioned = parent.send_any, parent.send_versioned
            entry.send_types = parent.send_types
        entry.resolutions = {}
        entry.sender_checks = {}
        for mode in (AddressingMode.ORGANISATION, AddressingMode.SERVICE, AddressingMode.PERSON):
            if entry.receiver is not None and entry.receiver.endpoint is not None:
                entry.resolutions[mode] = Resolution(
                    receiver=entry.receiver,
                    organisation_her_id=entry.root,
                    addressed_her_id=party.her_id,
                    addressing_mode=mode,
                    category=category,
                    endpoint=entry.receiver.endpoint,
                )
            entry.sender_checks[mode] = SenderCheck(
                party=party, organisation_her_id=entry.root, addressing_mode=mode, category=category
            )
        return entry

    def _index_secondary(self) -> None:
        children: dict[int, list[CommunicationParty]] = {}
        by_org: dict[str, list[CommunicationParty]] = {}
        by_municipality: dict[str, list[CommunicationParty]] = {}
        by_business: dict[str, list[CommunicationParty]] = {}
        by_service: dict[str, list[CommunicationParty]] = {}
        by_category: dict[Category, list[CommunicationParty]] = {}
        for party in self._sorted:
            if party.parent_her_id is not None:
                children.setdefault(party.parent_her_id, []).append(party)
            if party.organisation_number:
                by_org.setdefault(party.organisation_number, []).append(party)
            if party.municipality:
                by_municipality.setdefault(party.municipality, []).append(party)
            if party.business_type:
                by_business.setdefault(party.business_type, []).append(party)
            if party.service_code:
                by_service.setdefault(party.service_code, []).append(party)
            by_category.setdefault(party.category, []).append(party)
        self._children = {k: tuple(v) for k, v in children.items()}
        self._by_org_number = {k: tuple(v) for k, v in by_org.items()}
        self._by_municipality = {k: tuple(v) for k, v in by_municipality.items()}
        self._by_business_type = {k: tuple(v) for k, v in by_business.items()}
        self._by_service_code = {k: tuple(v) for k, v in by_service.items()}
        self._by_category = {k: tuple(v) for k, v in by_category.items()}
        targets: dict[str, int | None] = {}
        for number, parties in self._by_org_number.items():
            top = [
                p.her_id
                for p in parties
                if not any(
                    self._entries[a].party.organisation_number == number
                    for a in self._entries[p.her_id].ancestors
                )
            ]
            targets[number] = top[0] if len(top) == 1 else None
        self._org_number_target = targets


_Sets = tuple[frozenset[str], frozenset[tuple[str, str]], frozenset[str]]


@functools.lru_cache(maxsize=4096)
def _profile(profile: tuple[MessageProfile, ...]) -> _Sets:
    """Look-up sets of a profile; most parties share a few profiles, so they are cached."""
    any_version = frozenset(p.message_type for p in profile if not p.versions)
    versioned = frozenset((p.message_type, v) for p in profile for v in p.versions)
    types = frozenset(p.message_type for p in profile)
    return any_version, versioned, types


Snapshots = Callable[[], RegisterIndex]
"""Where a stage gets the register in force: called once per decision, so a live register's
changes apply from the next message (``LiveRegister.snapshot`` or ``lambda: index``)."""
