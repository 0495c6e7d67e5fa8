"""Mutations of real documents: the malformed, hostile and merely odd inputs senders produce.

Each mutation keeps most of a real corpus document so that the input gets past the
first checks and reaches the deeper code (envelope, identifiers, routing), which is
where an unexpected exception would hide.
"""

import random
import re
from collections.abc import Callable

Mutation = Callable[[bytes, random.Random], bytes]

_ID = re.compile(rb"(<(?:\w+:)?Id>)(\d+)(</(?:\w+:)?Id>)")
_ELEMENT = re.compile(rb"<((?:\w+:)?\w+)(?:\s[^<>]*)?>[^<>]*</\1>")
_ROOT = re.compile(rb"<(?![?!])((?:\w+:)?\w+)")
_UNICODE_DIGITS = ("\u00b2", "\u0663", "\uff13", "\u0967", "\u2079", "\U0001d7d9")
_UNICODE_SPACES = (" ", "\u00a0", "\u2003", "\u3000", "\t", "\u200b")
HUGE = 4 * 1024 * 1024


def truncate(raw: bytes, rng: random.Random) -> bytes:
    return raw[: rng.randrange(len(raw))] if raw else raw


def flip_bits(raw: bytes, rng: random.Random) -> bytes:
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        if data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def duplicate_element(raw: bytes, rng: random.Random) -> bytes:
    found = list(_ELEMENT.finditer(raw))
    if not found:
        return raw + raw
    match = rng.choice(found)
    return raw[: match.end()] + match.group(0) * rng.randint(2, 50) + raw[match.end() :]


def repeat_element_deeply(raw: bytes, rng: random.Random) -> bytes:
    """Elements nested thousands deep inside the root (the depth limit's business)."""
    root = _ROOT.search(raw)
    if root is None:
        return raw
    end = raw.index(b">", root.end()) + 1
    depth = rng.choice((200, 5_000, 50_000))
    return raw[:end] + b"<x>" * depth + b"</x>" * depth + raw[end:]


def repeat_element_widely(raw: bytes, rng: random.Random) -> bytes:
    """Many thousand empty siblings: the element-count and memory limits' business."""
    root = _ROOT.search(raw)
    if root is None:
        return raw
    end = raw.index(b">", root.end()) + 1
    return raw[:end] + b"<e/>" * rng.choice((10_000, 300_000)) + raw[end:]


def _replace_id(raw: bytes, rng: random.Random, make: Callable[[bytes], bytes]) -> bytes:
    found = list(_ID.finditer(raw))
    if not found:
        return raw
    match = rng.choice(found)
    return raw[: match.start(2)] + make(match.group(2)) + raw[match.end(2) :]


def unicode_digit_in_id(raw: bytes, rng: random.Random) -> bytes:
    digit = rng.choice(_UNICODE_DIGITS).encode("utf-8")
    return _replace_id(raw, rng, lambda value: value + digit)


def unicode_space_in_id(raw: bytes, rng: random.Random) -> bytes:
    space = rng.choice(_UNICODE_SPACES).encode("utf-8")
    return _replace_id(raw, rng, lambda value: space + value[:3] + space + value[3:] + space)


def huge_id(raw: bytes, rng: random.Random) -> bytes:
    return _replace_id(raw, rng, lambda value: value * rng.choice((5, 1000, 100_000)))


def huge_attribute(raw: bytes, rng: random.Random) -> bytes:
    root = _ROOT.search(raw)
    if root is None:
        return raw
    return raw[: root.end()] + b' huge="' + b"a" * HUGE + b'"' + raw[root.end() :]


def many_attributes(raw: bytes, rng: random.Random) -> bytes:
    root = _ROOT.search(raw)
    if root is None:
        return raw
    attributes = b"".join(b' a%d="1"' % n for n in range(rng.choice((100, 20_000))))
    return raw[: root.end()] + attributes + raw[root.end() :]


def huge_text(raw: bytes, rng: random.Random) -> bytes:
    found = list(_ELEMENT.finditer(raw))
    if not found:
        return raw
    match = rng.choice(found)
    close = raw.rindex(b"</", match.start(), match.end())
    return raw[:close] + b"x" * HUGE + raw[close:]


def wrong_encoding(raw: bytes, rng: random.Random) -> bytes:
    text = raw.decode("utf-8", "replace")
    choice = rng.randrange(6)
    if choice == 0:
        return text.encode("utf-16")  # a BOM and a declaration that says UTF-8
    if choice == 1:
        return text.encode("utf-16-be")  # no BOM at all
    if choice == 2:
        return text.encode("cp500", "replace")  # EBCDIC
    if choice == 3:
        return text.encode("utf-32")
    if choice == 4:
        return raw.replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"').replace(
            b"encoding='UTF-8'", b"encoding='ISO-8859-1'"
        ) + "æøå".encode("latin-1")
    return text.encode("latin-1", "replace")  # declared UTF-8, bytes Latin-1


def garbage(raw: bytes, rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 17, 4096)))


MUTATIONS: dict[str, Mutation] = {
    "truncate": truncate,
    "flip_bits": flip_bits,
    "duplicate_element": duplicate_element,
    "repeat_element_deeply": repeat_element_deeply,
    "repeat_element_widely": repeat_element_widely,
    "unicode_digit_in_id": unicode_digit_in_id,
    "unicode_space_in_id": unicode_space_in_id,
    "huge_id": huge_id,
    "huge_attribute": huge_attribute,
    "many_attributes": many_attributes,
    "huge_text": huge_text,
    "wrong_encoding": wrong_encoding,
    "garbage": garbage,
}
"""Every mutation by name; each takes a document and a seeded random source."""

ODD_HEADER_VALUES: tuple[object, ...] = (
    b"\xff\xfe\x00",
    "8094166\u00b2",
    "\uff18\uff10\uff19",
    " 8094166 ",
    "9" * 400,
    -1,
    2**40,
    b"",
    "",
)
"""Header values of the AMQP ``fromHerId`` and the Kafka ``principal`` kind: not UTF-8,
Unicode digits, spaces, overlong, negative, out of range, empty."""
