"""Helpers for the ingress tests: a real HTTP server on loopback, documents, principals."""

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Message

from access.principals_file import add_credentials
from kafka_io import headers_of
from schemas.catalogue import default_catalogue
from schemas.envelope import read_envelope
from schemas.records import INBOUND_HEADER, InboundMessage, decode
from schemas.xmlparse import ParseLimits, parse_message
from tests.support.corpus_register import Sample

_MSG_ID = re.compile(rb"<(?:\w+:)?MsgId>([^<]+)</(?:\w+:)?MsgId>")


def sender_ids(samples: list[Sample]) -> set[int]:
    """Every sender HER-id (organisation, service, person) the samples name."""
    ids: set[int] = set()
    for sample in samples:
        sender = sample.envelope.sender
        ids |= {
            h
            for h in (sender.organisation_her_id, sender.service_her_id, sender.person_her_id)
            if h is not None
        }
    return ids


@dataclass(frozen=True)
class Credentials:
    """A principals file with two principals and one token each."""

    path: Path
    sender_token: str
    """Token of ``epj``, which may send for every corpus sender."""
    other_token: str
    """Token of ``other``, which may send for none of them."""


def make_credentials(directory: Path, samples: list[Sample]) -> Credentials:
    """``epj`` (every corpus sender) and ``other`` (an unrelated HER-id), one token each."""
    path = directory / "principals.toml"
    sender = add_credentials(path, "epj", sender_ids(samples))
    other = add_credentials(path, "other", [999_999_001])
    return Credentials(path, sender, other)


def sender_organisation(raw: bytes | None) -> int | None:
    """The sender organisation HER-id a document states (the key ingress writes it under)."""
    root = parse_message(raw or b"", ParseLimits())
    return read_envelope(root, default_catalogue()).envelope.sender.organisation_her_id


def with_new_msg_id(raw: bytes) -> tuple[bytes, str]:
    """The document with a fresh MsgId (a re-send keeps its MsgId; a new message gets one)."""
    new = str(uuid.uuid4())
    changed, count = _MSG_ID.subn(
        lambda m: m.group(0).replace(m.group(1), new.encode()), raw, count=1
    )
    assert count == 1, "the document has no MsgId"
    return changed, new


def msghead_samples(samples: list[Sample]) -> list[Sample]:
    """MsgHead samples between two organisations (their MsgId can be replaced)."""
    return [
        s
        for s in samples
        if s.envelope.is_msghead
        and s.envelope.msg_id
        and s.envelope.sender.organisation_her_id != s.envelope.receiver.organisation_her_id
        and _MSG_ID.search(s.raw)
    ]


def inbound_meta(record: Message) -> InboundMessage:
    """The ingress metadata header of a ``hub.inbound`` record."""
    return decode(dict(headers_of(record))[INBOUND_HEADER], InboundMessage)
