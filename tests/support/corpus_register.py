"""A register in which every corpus sample's sender and receiver exist and accept what they get.

Built from the documents themselves (through the hub's own reader), so a test
can route the real samples: organisations at level 1, services or persons at
level 2 under them, each receiving the types addressed to it.
"""

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from addressregister.index import RegisterIndex
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from schemas.envelope import Envelope
from schemas.parties import PartyRef
from schemas.reader import MessageReader
from tests.support.shared import CORPUS, corpus_manifest


@dataclass(frozen=True)
class Sample:
    """One accepted corpus document with its envelope."""

    path: Path
    raw: bytes
    envelope: Envelope


def accepted_samples(reader: MessageReader) -> list[Sample]:
    """Every corpus document the reader accepts, with a sender and a receiver organisation."""
    samples = []
    for entry in corpus_manifest():
        path = CORPUS / entry["file"]
        raw = path.read_bytes()
        result = reader.read(raw)
        env = result.envelope
        if (
            result.accepted
            and env is not None
            and env.sender.organisation_her_id is not None
            and env.receiver.organisation_her_id is not None
        ):
            samples.append(Sample(path, raw, env))
    return samples


def consistent(samples: list[Sample]) -> list[Sample]:
    """The samples whose level-2 parties sit under one organisation only.

    The standards' examples reuse a few person and service HER-ids under different
    organisations; one register cannot hold both, so later conflicting samples are left out.
    """
    parent_of: dict[int, int] = {}
    organisations: set[int] = set()
    kept = []
    for sample in samples:
        env = sample.envelope
        refs = [env.sender, env.receiver, *env.copy_receivers]
        orgs = {ref.organisation_her_id for ref in refs if ref.organisation_her_id is not None}
        pairs = [
            (her_id, ref.organisation_her_id)
            for ref in refs
            for her_id in (ref.service_her_id, ref.person_her_id)
            if her_id is not None
            and ref.organisation_her_id is not None
            and her_id != ref.organisation_her_id
        ]
        if any(parent_of.get(h, o) != o or h in organisations or h in orgs for h, o in pairs):
            continue
        if any(o in parent_of for o in orgs):
            continue
        for h, o in pairs:
            parent_of[h] = o
        organisations |= orgs
        kept.append(sample)
    return kept


def register_for(
    samples: list[Sample], endpoint_kind: EndpointKind = EndpointKind.MAILBOX
) -> RegisterIndex:
    """Parties for every sender and receiver of ``samples``; level 2 under its organisation."""
    receives: dict[int, set[str]] = defaultdict(set)
    sends: dict[int, set[str]] = defaultdict(set)
    parents: dict[int, int | None] = {}
    kinds: dict[int, PartyKind] = {}

    def add(ref: PartyRef, message_type: str, into: dict[int, set[str]]) -> None:
        org = ref.organisation_her_id
        assert org is not None
        parents.setdefault(org, None)
        kinds.setdefault(org, PartyKind.ORGANISATION)
        into[org].add(message_type)
        for her_id, kind in (
            (ref.service_her_id, PartyKind.SERVICE),
            (ref.person_her_id, PartyKind.PERSON),
        ):
            if her_id is not None and her_id != org:
                parents.setdefault(her_id, org)
                kinds.setdefault(her_id, kind)
                into[her_id].add(message_type)

    for sample in samples:
        env = sample.envelope
        message_type = env.message_type or "UNKNOWN"
        add(env.sender, message_type, sends)
        add(env.receiver, message_type, receives)
        for copy in env.copy_receivers:
            if copy.organisation_her_id is not None:
                add(copy, message_type, receives)
    parties = []
    for her_id, parent in parents.items():
        parties.append(
            CommunicationParty(
                her_id=her_id,
                kind=kinds[her_id],
                name=f"Party {her_id}",
                parent_her_id=parent,
                business_type="101" if parent is None else None,
                receives=tuple(MessageProfile(t) for t in sorted(receives[her_id])),
                sends=tuple(MessageProfile(t) for t in sorted(sends[her_id])),
                endpoint=Endpoint(endpoint_kind, f"{her_id}_async") if parent is None else None,
            )
        )
    return RegisterIndex(parties)


def apprec_answer(
    template: bytes, reader: MessageReader, msg_id: str, to_her_id: int, from_her_id: int
) -> bytes:
    """A receiver's AppRec (from a corpus AppRec) answering ``msg_id``, from receiver to sender."""
    tree = etree.fromstring(template)
    ns = {"a": tree.nsmap[None]}
    tree.find("a:OriginalMsgId/a:Id", ns).text = msg_id  # type: ignore[union-attr]
    tree.find("a:Sender/a:HCP/a:Inst/a:Id", ns).text = str(from_her_id)  # type: ignore[union-attr]
    tree.find("a:Receiver/a:HCP/a:Inst/a:Id", ns).text = str(to_her_id)  # type: ignore[union-attr]
    for level in ("Sender", "Receiver"):
        inst = tree.find(f"a:{level}/a:HCP/a:Inst", ns)
        assert inst is not None
        for child in inst.findall("a:Dept", ns) + inst.findall("a:HCPerson", ns):
            inst.remove(child)
    tree.find("a:Id", ns).text = "6f1c0c3e-0d7b-4d7e-9a51-3f1d2b0a9c11"  # type: ignore[union-attr]
    raw = bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    assert reader.read(raw).accepted
    return raw
