"""Corpus documents with a unique marker in their text nodes and attribute values.

A marker goes into every text node and attribute value the hub's own schemas let
carry free text (where a schema wants a date, number or code the value is put
back, found by validating with the hub's reader), except what the hub routes on:
``MsgId`` and ``MsgInfo/Type`` and the HER-ids and their type codes. The
variants carry the marker where each rejection happens.
"""

from dataclasses import dataclass

from lxml import etree

from schemas.reader import MessageReader
from tests.support.corpus_register import Sample

_MAX_REPAIRS = 400


@dataclass(frozen=True)
class Marked:
    """A marked document and what the hub should do with it."""

    name: str
    raw: bytes
    outcome: str
    """``routed``, ``rejected`` or ``dead-lettered``."""


def _local(node: etree._Element) -> str:
    return etree.QName(node).localname


def _kept(element: etree._Element) -> bool:
    """Values the hub routes on: the message id and type, HER-ids and their type codes."""
    name = _local(element)
    parent = element.getparent()
    if name in ("MsgId", "Type", "MsgType", "TypeId", "Id", "Status", "MIGversion"):
        if name != "Id" or parent is None:
            return True
        siblings = [s for s in parent if isinstance(s.tag, str) and _local(s) == "TypeId"]
        return any(s.get("V") in ("HER", "ENH") for s in siblings) or _local(parent) in (
            "OriginalMsgId",
            "AppRec",
        )
    return False


def _path(element: etree._Element) -> str:
    names = [_local(e) for e in (element, *element.iterancestors())]
    return "/" + "/".join(reversed(names))


def mark(raw: bytes, marker: str, reader: MessageReader) -> bytes | None:
    """``raw`` with ``marker`` in every free-text value; ``None`` if the document lost its
    routing (the same envelope ids) or its validity."""
    original = reader.read(raw).envelope
    root = etree.fromstring(raw)
    slots: dict[str, list[tuple[etree._Element, str | None]]] = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or _kept(element):
            continue
        path = _path(element)
        if element.text and element.text.strip() and len(element) == 0:
            slots.setdefault(path, []).append((element, None))
            element.text = f'{element.text} O\'Brien "{marker}"'
        for attribute in element.attrib:
            # lxml's stubs say str | bytes; lxml itself only ever gives str names
            assert isinstance(attribute, str)
            if etree.QName(attribute).namespace is None:
                slots.setdefault(f"{path}/@{attribute}", []).append((element, attribute))
                element.set(attribute, f"{element.get(attribute)} {marker}")
    source = etree.fromstring(raw)
    by_position = dict(zip(root.iter(), source.iter(), strict=True))
    for _ in range(_MAX_REPAIRS):
        result = reader.read(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
        if result.problem is None:
            break
        where = result.problem.reason.split(": ", 1)[0]
        if where not in slots:
            return None
        for element, slot in slots.pop(where):
            was = by_position[element]
            if slot is None:
                element.text = was.text
            else:
                element.set(slot, was.get(slot) or "")
    else:
        return None
    marked = bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    envelope = reader.read(marked).envelope
    if envelope is None or original is None or marker.encode() not in marked:
        return None
    same = (envelope.sender, envelope.receiver, envelope.msg_id, envelope.message_type)
    return (
        marked
        if same == (original.sender, original.receiver, original.msg_id, original.message_type)
        else None
    )


def variants(sample: Sample, marker: str, reader: MessageReader) -> dict[str, bytes]:
    """Rejected at each stage, with the marker where the rejection is found."""
    raw = sample.raw
    envelope = sample.envelope
    text = raw.decode("utf-8")
    gen_date = f"<GenDate>{envelope.gen_date}</GenDate>"
    assert gen_date in text, "the variants need a sample with a GenDate element"
    receiver = f"<Id>{envelope.receiver.organisation_her_id}</Id>"
    type_code = f'V="{envelope.message_type}"'
    return {
        "not-well-formed": f"{text[: len(text) // 2]} {marker}'\"<".encode(),
        "xsd-quotes": text.replace(
            gen_date, f"<GenDate>O'Brien \"{marker}\" har 'diabetes</GenDate>", 1
        ).encode(),
        "unknown-receiver": _with_text(
            text.replace(receiver, "<Id>999999</Id>", 1), marker, reader
        ),
        "unknown-type": text.replace(type_code, f'V="{marker}"', 1).encode(),
    }


def _with_text(text: str, marker: str, reader: MessageReader) -> bytes:
    marked = mark(text.encode("utf-8"), marker, reader)
    return marked if marked is not None else text.encode("utf-8")
