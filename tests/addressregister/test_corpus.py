"""The shared corpus samples' senders and receivers resolve as the documents intend.

Parties are read with plain lxml (the envelope reader is another package's job):
level 1 is the organisation, level 2 a sub-organisation / department (service
addressing) or a healthcare professional (person addressing), exactly where
DOMAIN.md section 1 puts them for MsgHead, the basis ``Message`` documents and
AppRec. Identifiers that are not integer HER-ids (``2397.1``) are left out, and
the organisation number (ENH) is used when a party has no HER-id.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from addressregister.resolution import check_sender, resolve_receiver
from addressregister.results import LookupProblem, Resolution, ResolutionFailure, SenderCheck
from schemas.parties import PartyRef
from schemas.vocabulary import AddressingMode, AppRecErrorCode
from tests.addressregister.corpus_register import EXPECTED_CATEGORY, corpus_index
from tests.support.shared import CORPUS, corpus_manifest

NOW = datetime(2024, 6, 1, tzinfo=UTC)

# In these three samples the requester names GP 258521 under practice 91096, while six
# other samples name the same HER-id under practice 56704. A HER-id has one parent, so
# the register says 56704 and these receivers are rejected as not part of 91096.
CONTRADICTING = {
    "basis/Svar_radiologi_v1-4_Endring.xml",
    "basis/Svar_radiologi_v1-4_Kansellering.xml",
    "basis/Svar_radiologi_v1-4_Ny.xml",
}
# Sender before receiver: (sender path, receiver path) of the basis documents.
BASIS_ROLES = {
    "HENVISNING": ("ServReq/Requester", "ServReq/ServProvider"),
    "REQ_LAB": ("ServReq/Requester", "ServReq/ServProvider"),
    "REQ_RTG": ("ServReq/Requester", "ServReq/ServProvider"),
    "EPIKRISE": ("ServRprt/ServProvider", "ServRprt/Requester"),
    "SVAR_LAB": ("ServReport/ServProvider", "ServReport/Requester"),
    "SVAR_RTG": ("ServReport/ServProvider", "ServReport/Requester"),
}


@dataclass(frozen=True)
class Addressed:
    ref: PartyRef
    mode: AddressingMode


def _local(element: Any) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _children(element: Any, name: str) -> list[Any]:
    return [c for c in element if _local(c) == name]


def _path(element: Any, path: str) -> Any | None:
    for step in path.split("/"):
        found = _children(element, step)
        if not found:
            return None
        element = found[0]
    return element


def _ids(element: Any, *, type_tag: str) -> dict[str, str]:
    """``{TypeId/@V: Id}`` of an ``Ident`` list (MsgHead) or of an ``Inst``-like element."""
    result: dict[str, str] = {}
    holders = _children(element, "Ident") if type_tag == "Ident" else [element]
    for holder in holders:
        ident, kind = _children(holder, "Id"), _children(holder, "TypeId")
        if ident and kind and ident[0].text:
            result.setdefault(kind[0].get("V", ""), ident[0].text.strip())
    return result


def _her(ids: dict[str, str]) -> int | None:
    value = ids.get("HER")
    return int(value) if value is not None and value.isdigit() else None


def _addressed(org_ids: dict[str, str], service: int | None, person: int | None) -> Addressed:
    ref = PartyRef(
        organisation_her_id=_her(org_ids),
        service_her_id=service,
        person_her_id=person,
        organisation_number=org_ids.get("ENH"),
    )
    if person is not None:
        return Addressed(ref, AddressingMode.PERSON)
    if service is not None:
        return Addressed(ref, AddressingMode.SERVICE)
    return Addressed(ref, AddressingMode.ORGANISATION)


def _msghead_party(root: Any, role: str) -> Addressed | None:
    organisation = _path(root, f"MsgInfo/{role}/Organisation")
    if organisation is None:
        return None
    subs = [_her(_ids(o, type_tag="Ident")) for o in _children(organisation, "Organisation")]
    people = [
        _her(_ids(p, type_tag="Ident")) for p in _children(organisation, "HealthcareProfessional")
    ]
    return _addressed(
        _ids(organisation, type_tag="Ident"),
        next((h for h in subs if h is not None), None),
        next((h for h in people if h is not None), None),
    )


def _hcp_party(holder: Any | None) -> Addressed | None:
    inst = _path(holder, "HCP/Inst") if holder is not None else None
    if inst is None:
        return None
    departments = [_her(_ids(d, type_tag="Id")) for d in _children(inst, "Dept")]
    people = [_her(_ids(p, type_tag="Id")) for p in _children(inst, "HCPerson")]
    return _addressed(
        _ids(inst, type_tag="Id"),
        next((h for h in departments if h is not None), None),
        next((h for h in people if h is not None), None),
    )


def parties_of(entry: dict[str, Any]) -> tuple[Addressed, Addressed] | None:
    root = etree.parse(str(CORPUS / entry["file"])).getroot()
    if entry["root"] == "MsgHead":
        sender, receiver = _msghead_party(root, "Sender"), _msghead_party(root, "Receiver")
    elif entry["root"] == "AppRec":
        sender, receiver = _hcp_party(_path(root, "Sender")), _hcp_party(_path(root, "Receiver"))
    else:
        sender_path, receiver_path = BASIS_ROLES[entry["type"]]
        sender, receiver = (
            _hcp_party(_path(root, sender_path)),
            _hcp_party(_path(root, receiver_path)),
        )
    if sender is None or receiver is None:
        return None
    return sender, receiver


def corpus_entries() -> list[dict[str, Any]]:
    return corpus_manifest()


def _entry_id(entry: dict[str, Any]) -> str:
    return Path(entry["file"]).stem


ENTRIES = corpus_manifest() if (CORPUS / "manifest.json").is_file() else []


@pytest.fixture(scope="module")
def index() -> Any:
    return corpus_index()


@pytest.mark.parametrize("entry", ENTRIES, ids=[_entry_id(e) for e in ENTRIES])
def test_sample_resolves_as_the_document_intends(entry: dict[str, Any], index: Any) -> None:
    parties = parties_of(entry)
    if parties is None:
        assert entry["type"] is None  # only the two AppRecs without any parties
        return
    sender, receiver = parties
    message_type = entry["type"] or "APPREC"

    check = check_sender(index, sender.ref, message_type, None, NOW)
    assert isinstance(check, SenderCheck), (entry["file"], check)
    assert check.addressing_mode is sender.mode

    outcome = resolve_receiver(index, receiver.ref, message_type, None, NOW)
    if entry["file"] in CONTRADICTING:
        assert isinstance(outcome, ResolutionFailure)
        assert (outcome.code, outcome.problem) == (
            AppRecErrorCode.E21,
            LookupProblem.NOT_UNDER_ORGANISATION,
        )
        return
    assert isinstance(outcome, Resolution), (entry["file"], outcome)
    assert outcome.addressing_mode is receiver.mode
    addressed = (
        receiver.ref.person_her_id
        or receiver.ref.service_her_id
        or receiver.ref.organisation_her_id
    )
    if addressed is not None:
        assert outcome.addressed_her_id == addressed
        assert outcome.organisation_her_id == index.organisation_of(addressed)
    expected = EXPECTED_CATEGORY.get(outcome.organisation_her_id)
    if expected is not None:
        assert outcome.category is expected


def test_the_corpus_uses_every_addressing_mode_and_the_fallbacks(index: Any) -> None:
    modes: set[AddressingMode] = set()
    by_number = 0
    for entry in ENTRIES:
        parties = parties_of(entry)
        if parties is None:
            continue
        for side in parties:
            modes.add(side.mode)
            if side.ref.organisation_her_id is None:
                by_number += 1
    if not ENTRIES:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    assert modes == {AddressingMode.ORGANISATION, AddressingMode.SERVICE, AddressingMode.PERSON}
    assert by_number >= 5  # ENH-only AppRec, e-resept M3/M10/M91/M93 and M22/M23
