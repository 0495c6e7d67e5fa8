"""Every corpus file through the reader in both validation modes, checked against the manifest.

The manifest says what each document is (family, type, root and payload
namespace); the sender and receiver HER-ids are read here independently of the
envelope reader, with plain XPath over local names. The outcome of each file is
recorded for the conformance table printed at the end of the run.
"""

from typing import Any

import pytest
from lxml import etree

from schemas.parties import PartyRef
from schemas.reader import MessageReader, ReadResult
from schemas.vocabulary import AppRecErrorCode
from tests.schemas.conftest import CONFORMANCE, ConformanceRow
from tests.support.shared import CORPUS, corpus_manifest

EXPECTED_REJECTIONS = {
    "apprec/missing-migversion.xml": AppRecErrorCode.T02,  # empty AppRec
    "apprec/unknown-migversion.xml": AppRecErrorCode.T02,  # only a MIGversion
    "apprec/unknown-status.xml": AppRecErrorCode.T02,  # Status 123 is not in kodeverk 8258
}


def _current_entries() -> list[dict[str, Any]]:
    """Manifest entries describing the file on disk (a few names were copied twice: last wins)."""
    return [e for e in corpus_manifest() if (CORPUS / e["file"]).stat().st_size == e["bytes"]]


def _find(element: Any, expression: str) -> list[Any]:
    """XPath results as a plain list (the stubs type xpath() as a wide union)."""
    return list(element.xpath(expression))


def _local(*names: str) -> str:
    return "/".join(f"*[local-name()='{name}']" for name in names)


def _her(element: etree._Element, *path: str) -> int | None:
    """HER-id at ``path`` below ``element``: Ident with TypeId HER, or Id/TypeId/AdditionalId."""
    base = _local(*path)
    candidates = _find(
        element,
        f"{base}/{_local('Ident')}[{_local('TypeId')}/@V='HER']/{_local('Id')}/text()"
        f" | {base}[{_local('TypeId')}/@V='HER']/{_local('Id')}/text()"
        f" | {base}/{_local('AdditionalId')}[{_local('Type')}/@V='HER']/{_local('Id')}/text()",
    )
    value = str(candidates[0]).strip() if candidates else ""
    return int(value) if value.isdigit() else None  # e.g. "2397.1" in one sample is no HER-id


def _document_parties(
    root: etree._Element,
) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
    """(organisation, level-2) HER-ids of sender and receiver, as the document states them."""
    local = etree.QName(root).localname
    if local == "MsgHead":
        info = _find(root, _local("MsgInfo"))[0]
        sides = [("Sender", "Organisation"), ("Receiver", "Organisation")]
        return tuple(  # type: ignore[return-value]
            (
                _her(info, *side),
                _her(info, *side, "Organisation") or _her(info, *side, "HealthcareProfessional"),
            )
            for side in sides
        )
    if local == "AppRec":
        holders = [_find(root, _local(side, "HCP"))[0] for side in ("Sender", "Receiver")]
    else:
        container = _find(
            root, f"{_local('ServReq')} | {_local('ServRprt')} | {_local('ServReport')}"
        )[0]
        request = etree.QName(container).localname == "ServReq"
        order = ("Requester", "ServProvider") if request else ("ServProvider", "Requester")
        holders = [_find(container, _local(side, "HCP"))[0] for side in order]
    return tuple(  # type: ignore[return-value]
        (_her(hcp, "Inst"), _her(hcp, "Inst", "Dept") or _her(hcp, "Inst", "HCPerson"))
        for hcp in holders
    )


def _level2(party: PartyRef) -> int | None:
    return party.service_her_id or party.person_her_id


def _record(entry: dict[str, Any], mode: str, result: ReadResult) -> None:
    problem = result.problem
    verdict = "accepted" if problem is None else f"{problem.code.value}: {problem.reason}"
    CONFORMANCE.append(ConformanceRow(entry["file"], entry["family"], mode, verdict))


def test_every_file_on_disk_has_a_manifest_entry() -> None:
    described = {entry["file"] for entry in _current_entries()}
    on_disk = {path.relative_to(CORPUS).as_posix() for path in CORPUS.rglob("*.xml")}
    assert on_disk == described


@pytest.mark.parametrize("mode", ["built-in", "official"])
def test_corpus_classifies_and_validates(
    mode: str, builtin_reader: MessageReader, official_reader: MessageReader
) -> None:
    reader = builtin_reader if mode == "built-in" else official_reader
    failures: list[str] = []
    for entry in _current_entries():
        raw = (CORPUS / entry["file"]).read_bytes()
        result = reader.read(raw)
        _record(entry, mode, result)
        envelope = result.envelope
        assert envelope is not None, entry["file"]
        root = etree.fromstring(raw)
        expected = {
            "family": entry["family"],
            "type": entry["type"],
            "root_ns": entry["root_ns"],
            "payload_ns": entry.get("payload_ns", entry["root_ns"]),
            "payload_root": entry.get("payload_root", entry["root"]),
            "msghead": entry["msghead"],
        }
        found = {
            "family": envelope.family.value,
            "type": envelope.message_type,
            "root_ns": envelope.root_namespace,
            "payload_ns": envelope.payload_namespace,
            "payload_root": envelope.payload_root,
            "msghead": envelope.is_msghead,
        }
        if found != expected:
            failures.append(f"{entry['file']}: read {found}, manifest says {expected}")
        if entry["type"] is not None:  # a document without a type has no parties to compare
            (sender_org, sender_l2), (receiver_org, receiver_l2) = _document_parties(root)
            parties = (
                envelope.sender.organisation_her_id,
                _level2(envelope.sender),
                envelope.receiver.organisation_her_id,
                _level2(envelope.receiver),
            )
            if parties != (sender_org, sender_l2, receiver_org, receiver_l2):
                failures.append(f"{entry['file']}: parties {parties} differ from the document")
        expected_code = EXPECTED_REJECTIONS.get(entry["file"])
        if expected_code is not None:
            if result.problem is None or result.problem.code is not expected_code:
                failures.append(f"{entry['file']}: expected {expected_code}, got {result.problem}")
        elif mode == "built-in" and result.problem is not None:
            failures.append(f"{entry['file']}: rejected by our own schemas: {result.problem}")
        elif result.problem is not None and not (
            result.problem.code is AppRecErrorCode.T02 and result.problem.reason
        ):
            # The official schemas may reject a drifting sample, but only as invalid, with a reason.
            failures.append(f"{entry['file']}: official verdict {result.problem}")
    assert not failures, "\n".join(failures)
