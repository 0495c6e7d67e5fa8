"""Resolve a receiver and check a sender against a register snapshot: pure, no I/O.

The party an envelope addresses is its most specific level: a person (level 2
``HealthcareProfessional``), else a service or department (level 2
``Organisation/Organisation``), else the organisation (level 1). A person or
service receives through its nearest ancestor with an endpoint.

AppRec codes (kodeverk 8221) for each failure, and why:

* unknown HER-id: **E21** (receiver does not exist); for a person **E20**
  (doctor does not exist). A receiver named only by an organisation number that
  matches no single party is E21 as well.
* inactive, or outside its validity period: **E21** (E20 for a person). The
  party is not a communication party at that moment; the sender must pick
  another receiver, exactly as for an unknown one. The ``problem`` field keeps
  the distinction for operators and statistics.
* level-2 party not under the named level-1 organisation: **E21**. The
  receiver the envelope describes (that service of that organisation) does not
  exist.
* receiver does not accept the message type or version (collaboration
  profile): **T10** (message format not supported).
* no party with an endpoint in the chain: **X99** (other error; 8221 uses it
  for "not delivered"). The register is incomplete, not the message.

A sender that is unknown, inactive or not under its named organisation gets
**X99**: 8221 has no code for a bad sender, and E20/E21 would tell the sender
that *its receiver* is wrong. A sender whose profile does not include the type
gets **T10**. APPREC is always accepted and always allowed.
"""

from datetime import datetime

from addressregister.index import RegisterIndex, _Entry
from addressregister.results import LookupProblem, Resolution, ResolutionFailure, SenderCheck
from addressregister.validation import normalise_version
from schemas.parties import PartyRef
from schemas.vocabulary import AddressingMode, AppRecErrorCode

__all__ = [
    "LookupProblem",
    "Resolution",
    "ResolutionFailure",
    "SenderCheck",
    "check_sender",
    "resolve_receiver",
]

_PERSON = AddressingMode.PERSON
_SERVICE = AddressingMode.SERVICE
_ORGANISATION = AddressingMode.ORGANISATION
_VERSIONS: dict[str, str] = {}
_VERSION_CACHE_SIZE = 1024


def resolve_receiver(
    index: RegisterIndex, ref: PartyRef, message_type: str, version: str | None, at: datetime
) -> Resolution | ResolutionFailure:
    """The party that receives a message of ``message_type`` addressed to ``ref`` at ``at``.

    ``version`` is the MIGversion (``v1.6 2012-04-01``) or a bare ``1.6``; None checks
    the type only. ``at`` must be time-zone aware.
    """
    entries = index._entries
    org = ref.organisation_her_id
    her_id, mode = _addressed(ref)
    if her_id is None:
        if ref.organisation_number is None:
            return ResolutionFailure(
                AppRecErrorCode.E21, LookupProblem.NO_IDENTIFIER, "the receiver has no HER-id"
            )
        her_id = index.organisation_for_number(ref.organisation_number)
        if her_id is None:
            return _unknown_number(index, ref.organisation_number)
        org = None
    entry = entries.get(her_id)
    if entry is None:
        return _unknown(mode, her_id, receiver=True)
    if org is not None and org != her_id and org not in entry.ancestors:
        return _not_under(index, mode, her_id, org, receiver=True)
    if not entry.active or not entry.valid_from <= at < entry.valid_to:
        return _not_live(entry, mode, at, receiver=True)
    if message_type not in entry.receive_any:
        if version is None:
            if message_type not in entry.receive_types:
                return _not_accepted(entry, message_type, None)
        else:
            normal = _VERSIONS.get(version)
            if normal is None:
                normal = normalise_version(version)
                if len(_VERSIONS) < _VERSION_CACHE_SIZE:  # bounded: versions come from input
                    _VERSIONS[version] = normal
            if (message_type, normal) not in entry.receive_versioned:
                return _not_accepted(entry, message_type, normal)
    resolution = entry.resolutions.get(mode)
    if resolution is None:
        return ResolutionFailure(
            AppRecErrorCode.X99,
            LookupProblem.NO_ENDPOINT,
            f"no party with a delivery endpoint for {_who(entry, mode)} "
            f"(organisation {entry.root})",
            her_id,
        )
    return resolution


def check_sender(
    index: RegisterIndex, ref: PartyRef, message_type: str, version: str | None, at: datetime
) -> SenderCheck | ResolutionFailure:
    """Whether the party ``ref`` names may send ``message_type`` at ``at``."""
    entries = index._entries
    org = ref.organisation_her_id
    her_id, mode = _addressed(ref)
    if her_id is None:
        if ref.organisation_number is None:
            return ResolutionFailure(
                AppRecErrorCode.X99, LookupProblem.NO_IDENTIFIER, "the sender has no HER-id"
            )
        her_id = index.organisation_for_number(ref.organisation_number)
        if her_id is None:
            failure = _unknown_number(index, ref.organisation_number)
            return ResolutionFailure(
                AppRecErrorCode.X99, failure.problem, failure.reason.replace("receiver", "sender")
            )
        org = None
    entry = entries.get(her_id)
    if entry is None:
        return _unknown(mode, her_id, receiver=False)
    if org is not None and org != her_id and org not in entry.ancestors:
        return _not_under(index, mode, her_id, org, receiver=False)
    if not entry.active or not entry.valid_from <= at < entry.valid_to:
        return _not_live(entry, mode, at, receiver=False)
    if message_type not in entry.send_any:
        normal = normalise_version(version) if version is not None else None
        allowed = (
            message_type in entry.send_types
            if normal is None
            else (message_type, normal) in entry.send_versioned
        )
        if not allowed:
            return ResolutionFailure(
                AppRecErrorCode.T10,
                LookupProblem.NOT_ALLOWED_TO_SEND,
                f"{_who(entry, mode)} is not registered to send {message_type}"
                + (f" version {normal}" if normal else ""),
                her_id,
            )
    return entry.sender_checks[mode]


def _addressed(ref: PartyRef) -> tuple[int | None, AddressingMode]:
    if ref.person_her_id is not None:
        return ref.person_her_id, _PERSON
    if ref.service_her_id is not None:
        return ref.service_her_id, _SERVICE
    return ref.organisation_her_id, _ORGANISATION


def _who(entry: _Entry, mode: AddressingMode) -> str:
    if mode is _PERSON:
        return f"the person under organisation {entry.root}"
    return f"party {entry.party.her_id}"


def _unknown(mode: AddressingMode, her_id: int, *, receiver: bool) -> ResolutionFailure:
    role = "receiver" if receiver else "sender"
    if mode is _PERSON:
        code = AppRecErrorCode.E20 if receiver else AppRecErrorCode.X99
        return ResolutionFailure(
            code, LookupProblem.UNKNOWN_PERSON, f"the {role} person is not in the register", her_id
        )
    code = AppRecErrorCode.E21 if receiver else AppRecErrorCode.X99
    return ResolutionFailure(
        code, LookupProblem.UNKNOWN_PARTY, f"{role} HER-id {her_id} is not in the register", her_id
    )


def _unknown_number(index: RegisterIndex, number: str) -> ResolutionFailure:
    if index.by_organisation_number(number):
        return ResolutionFailure(
            AppRecErrorCode.E21,
            LookupProblem.AMBIGUOUS_ORGANISATION_NUMBER,
            f"organisation number {number} names several receiver parties; address by HER-id",
        )
    return ResolutionFailure(
        AppRecErrorCode.E21,
        LookupProblem.UNKNOWN_PARTY,
        f"no receiver with organisation number {number} in the register",
    )


def _not_under(
    index: RegisterIndex, mode: AddressingMode, her_id: int, org: int, *, receiver: bool
) -> ResolutionFailure:
    role = "receiver" if receiver else "sender"
    code = AppRecErrorCode.E21 if receiver else AppRecErrorCode.X99
    if org not in index:
        return ResolutionFailure(
            code,
            LookupProblem.UNKNOWN_PARTY,
            f"{role} organisation {org} is not in the register",
            org,
        )
    what = "person" if mode is _PERSON else f"party {her_id}"
    return ResolutionFailure(
        code,
        LookupProblem.NOT_UNDER_ORGANISATION,
        f"the {role} {what} is not part of organisation {org}",
        her_id,
    )


def _not_live(
    entry: _Entry, mode: AddressingMode, at: datetime, *, receiver: bool
) -> ResolutionFailure:
    role = "receiver" if receiver else "sender"
    if receiver:
        code = AppRecErrorCode.E20 if mode is _PERSON else AppRecErrorCode.E21
    else:
        code = AppRecErrorCode.X99
    if not entry.active:
        problem, state = LookupProblem.INACTIVE, "is inactive"
    else:
        problem, state = LookupProblem.OUTSIDE_VALIDITY, f"is not valid at {at.isoformat()}"
    return ResolutionFailure(
        code, problem, f"the {role} {_who(entry, mode)} {state}", entry.party.her_id
    )


def _not_accepted(entry: _Entry, message_type: str, version: str | None) -> ResolutionFailure:
    what = message_type + (f" version {version}" if version else "")
    return ResolutionFailure(
        AppRecErrorCode.T10,
        LookupProblem.TYPE_NOT_ACCEPTED,
        f"receiver {entry.receiver.her_id if entry.receiver else entry.party.her_id} "
        f"does not accept {what}",
        entry.party.her_id,
    )
