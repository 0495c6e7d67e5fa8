"""May this principal send as this sender? One decision, made on the sender the register resolves.

Every ingress adapter (before the durable write) and the router (before
anything else) ask the same question the same way:

1. Resolve the sender the envelope states. Each stated level (organisation,
   service or department, person) must exist in the register, and the levels
   must hang together: the person under the service (or directly under the
   organisation), both under the organisation. A sender named by organisation
   number only is resolved to its organisation first.
2. The most specific resolved party must be one of the principal's HER-ids or
   lie below one of them.

Anything else is spoofing. Reasons name organisations and levels, never a
person's HER-id or anything from the document.
"""

import itertools
from dataclasses import dataclass

from access.principals import Principal, Principals, Role
from addressregister.index import RegisterIndex
from addressregister.model import PartyKind
from schemas.parties import PartyRef


@dataclass(frozen=True, slots=True)
class SenderParty:
    """The sender as the register knows it."""

    her_id: int
    """The most specific party the envelope names (person, service or organisation)."""
    organisation_her_id: int
    """Its top-level organisation: the de-duplication scope and the AppRec's receiver."""
    beside: int | None = None
    """A stated service the person is not registered under (it hangs under the organisation
    directly): the principal must act for that service too."""


@dataclass(frozen=True, slots=True)
class NotAuthorised:
    """The principal may not send as the sender the document states (spoofing)."""

    reason: str
    """Safe text: levels and organisation HER-ids, never a person or document content."""
    unnamed: bool = False
    """The document names no sender at all: a broken message, not an attempt to be someone."""


def resolve_sender(index: RegisterIndex, ref: PartyRef) -> SenderParty | NotAuthorised:
    """The party ``ref`` names, when every stated level exists and they hang together."""
    if ref.ambiguous:
        return NotAuthorised("the sender is stated in more than one way (ids or levels)")
    organisation = ref.organisation_her_id
    if organisation is None and ref.organisation_number is not None:
        organisation = index.organisation_for_number(ref.organisation_number)
        if organisation is None:
            return NotAuthorised(
                "the sender's organisation number names no single organisation in the register"
            )
    levels = [
        (level, her_id)
        for level, her_id in (
            ("organisation", organisation),
            ("service", ref.service_her_id),
            ("person", ref.person_her_id),
        )
        if her_id is not None
    ]
    if not levels:
        return NotAuthorised("the document names no sender", unnamed=True)
    for level, her_id in levels:
        if her_id not in index:
            where = f" {her_id}" if level != "person" else ""
            return NotAuthorised(f"the sender {level}{where} is not in the register")
    if ref.organisation_her_id is not None and ref.organisation_number is not None:
        owners = {
            index.organisation_of(p.her_id)
            for p in index.by_organisation_number(ref.organisation_number)
        }
        if owners and organisation not in owners:
            return NotAuthorised(
                f"the sender's organisation number is not that of organisation {organisation}"
            )
    beside = None
    for (upper_level, upper), (lower_level, lower) in itertools.pairwise(levels):
        if upper == lower or upper in index.ancestors_of(lower):
            continue
        if not _beside(index, lower, upper):
            return NotAuthorised(
                f"the sender {lower_level} is not part of the sender {upper_level}"
                + (f" {upper}" if upper_level != "person" else "")
            )
        beside = upper
    her_id = levels[-1][1]
    return SenderParty(her_id, index.organisation_of(her_id) or her_id, beside)


def _beside(index: RegisterIndex, lower: int, upper: int) -> bool:
    """A person registered directly under an organisation, named with one of that
    organisation's services (the register ties a GP to the practice, the message names the
    practice's department too); a person registered under another unit may not be."""
    party = index.get(lower)
    if party is None or party.kind is not PartyKind.PERSON or party.parent_her_id is None:
        return False
    parent = party.parent_her_id
    return index.organisation_of(parent) == parent and parent in index.ancestors_of(upper)


def authorise_sender(
    principal: Principal, ref: PartyRef, index: RegisterIndex
) -> SenderParty | NotAuthorised:
    """The resolved sender when ``principal`` may send as it; else why not."""
    party = resolve_sender(index, ref)
    if isinstance(party, NotAuthorised):
        return party
    if _acts_for(principal, party.her_id, index) and (
        party.beside is None or _acts_for(principal, party.beside, index)
    ):
        return party
    return NotAuthorised(
        f"principal {principal.name!r} does not act for the sender "
        f"(organisation {party.organisation_her_id})"
    )


def _acts_for(principal: Principal, her_id: int, index: RegisterIndex) -> bool:
    return her_id in principal.her_ids or bool(principal.her_ids & index.ancestors_of(her_id))


def principal_organisation(principal: Principal, index: RegisterIndex) -> int | None:
    """The organisation a principal's own AppRecs go to: that of its first registered HER-id."""
    for her_id in sorted(principal.her_ids):
        organisation = index.organisation_of(her_id)
        if organisation is not None:
            return organisation
    return None


HELSEID_PREFIX = "helseid:"
"""Names of HelseID clients as principals: ``helseid:<organisation number>:<client id>``.
A principals file name cannot hold ``:``, so the two never meet."""


def helseid_principal_name(organisation_number: str, client_id: str) -> str:
    """The principal name a HelseID client's messages are recorded under: its organisation
    is part of it, so two organisations sharing one HelseID client stay apart."""
    return f"{HELSEID_PREFIX}{organisation_number}:{client_id}"


def organisation_parties(register: RegisterIndex, organisation_number: str) -> frozenset[int]:
    """Every HER-id of the organisation(s) with ``organisation_number`` and of all their
    sub-units, as the register holds them now (empty when the number is unknown)."""
    found: set[int] = set()
    pending = [party.her_id for party in register.by_organisation_number(organisation_number)]
    while pending:
        her_id = pending.pop()
        if her_id in found:
            continue
        found.add(her_id)
        pending.extend(child.her_id for child in register.children(her_id))
    return frozenset(found)


def principal_for(
    name: str | None, principals: Principals, register: RegisterIndex
) -> Principal | None:
    """The principal a record came through: one of the principals file, or a HelseID
    client, which stands for its organisation's HER-ids in the register as it is now (the
    gate already held it to its token's narrower claims)."""
    if name is not None and name.startswith(HELSEID_PREFIX):
        number = name.removeprefix(HELSEID_PREFIX).partition(":")[0]
        if len(number) != 9 or not number.isascii() or not number.isdigit():
            return None
        parties = organisation_parties(register, number)
        return Principal(name, parties, roles=frozenset({Role.SENDER, Role.RECEIVER}))
    return principals.get(name)
