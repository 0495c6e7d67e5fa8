"""Base64 attachments measured and checked in bulk, so that no one decodes them.

The envelope reports each attachment's decoded size (:func:`measure`: counts of XML
whitespace, found with memchr where they are rare). libxml2 validates an
``xs:base64Binary`` value one character at a time into a decoded copy: for a message
with a 2 MB attachment that cost twice the parsing of the whole message. The reader
checks the same rule instead (:func:`accepted`, libxml2's lexical rule of
``xmlSchemaValAtomicType``: characters outside the alphabet are ignored, at most two
``=`` and only at the end, whole groups of four, zero pad bits) and lets the schema see
an empty element in place of an attachment that passed (:func:`set_aside`). An
attachment that did not pass is validated by libxml2 itself, so the sender gets
libxml2's wording of the error.

This is sound only while the schema declares ``Base64Container`` as nothing but
``xs:base64Binary`` (no facets, no attributes): :func:`declares_plain_base64` checks
the schema document at start-up, and validation leaves attachments to libxml2 otherwise.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from lxml import etree

from schemas.catalogue_data import BASE64_NAMESPACE

BASE64_CONTAINER = f"{{{BASE64_NAMESPACE}}}Base64Container"
XSI_NAMESPACE = "http://www.w3.org/2001/XMLSchema-instance"
HINT_ATTRIBUTES = frozenset(
    {f"{{{XSI_NAMESPACE}}}schemaLocation", f"{{{XSI_NAMESPACE}}}noNamespaceSchemaLocation"}
)
"""Attributes a validator with a compiled schema ignores: an attachment may carry them."""

_XSD = "{http://www.w3.org/2001/XMLSchema}"
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_XML_BLANKS = b" \t\r\n"
_NOT_BASE64 = bytes(range(256)).translate(None, _ALPHABET + b"=")
_STRAYS_CHANGED = bytes(
    byte if byte in _ALPHABET + b"=" + _XML_BLANKS else (byte + 1) % 256 for byte in range(256)
)
"""A table that keeps digits, ``=`` and XML whitespace and changes every other byte."""
_DIGIT = {character: value for value, character in enumerate(_ALPHABET)}
_TAIL = 64
"""Characters at the end of an attachment looked at for its padding."""
_PAD_BITS = {1: 0x3C, 2: 0x30}
"""Bits of the last digit that may be set before one or two ``=`` (the rest are padding)."""


@dataclass(frozen=True, slots=True)
class Base64Text:
    """An attachment element with only text (and schema hints) inside: the text's bytes
    and how many of them are XML whitespace (what the envelope measures it by)."""

    element: etree._Element
    data: bytes
    blanks: int


def measure(body: etree._Element) -> tuple[int, Base64Text | None]:
    """The decoded size of a base64 attachment (any namespace), without decoding it, and
    its :class:`Base64Text` when it is a ``Base64Container`` with nothing but text inside.

    XML whitespace (space, tab, CR, LF) does not count, and one or two ``=`` at the end
    are padding.
    """
    text = body.text or ""
    data = text.encode("ascii") if text.isascii() else None
    if data is None:
        blanks = sum(text.count(blank) for blank in " \t\r\n")
    else:
        blanks = sum(_count(data, blank) for blank in b" \t\r\n")
    end = text[-_TAIL:].rstrip()
    if len(end) < 2 and len(text) > _TAIL:  # a long run of trailing spaces: read all of it
        end = text.rstrip()
    size = max((len(text) - blanks) * 3 // 4 - end.endswith("==") - end.endswith("="), 0)
    if (
        data is None
        or body.tag != BASE64_CONTAINER
        or len(body)  # a child element, comment or processing instruction
        or any(name not in HINT_ATTRIBUTES for name in body.attrib)
    ):
        return size, None
    return size, Base64Text(body, data, blanks)


def _count(data: bytes, byte: int) -> int:
    """``data.count(byte)``, scanning only between its first and last occurrence (found
    with memchr): indentation before the closing tag is counted in a few bytes."""
    first = data.find(byte)
    if first < 0:
        return 0
    return data.count(byte, first, data.rfind(byte) + 1)


def accepted(text: Base64Text) -> bool:
    """Whether libxml2 accepts the attachment's text as ``xs:base64Binary``.

    Text of nothing but digits, ``=`` and XML whitespace (every real attachment) is
    judged from counts; anything else by :func:`accepted_by_libxml2`.
    """
    data = text.data
    if data.translate(_STRAYS_CHANGED) != data:
        return accepted_by_libxml2(data)
    first_pad = data.find(b"=")
    if first_pad < 0:
        return (len(data) - text.blanks) % 4 == 0
    tail = data[first_pad:]
    pad = tail.count(b"=")
    if pad > 2 or tail.translate(None, _XML_BLANKS) != b"=" * pad:
        return False
    if (len(data) - text.blanks - pad) % 4 != 4 - pad:
        return False
    digits = data[max(first_pad - _TAIL, 0) : first_pad].rstrip(_XML_BLANKS)
    if not digits:  # a long run of whitespace before the padding
        digits = data[:first_pad].rstrip(_XML_BLANKS)
    return _DIGIT[digits[-1]] & ~_PAD_BITS[pad] == 0


def accepted_by_libxml2(data: bytes) -> bool:
    """Whether libxml2 accepts ``data`` as ``xs:base64Binary``: characters outside the
    alphabet are ignored, at most two ``=`` and only at the end, whole groups of four, and
    the bits that ``=`` pads are zero."""
    kept = data.translate(None, _NOT_BASE64)
    first_pad = kept.find(b"=")
    if first_pad < 0:
        return len(kept) % 4 == 0
    pad = len(kept) - first_pad
    if pad > 2 or kept.count(b"=", first_pad) != pad or first_pad % 4 != 4 - pad:
        return False
    return _DIGIT[kept[first_pad - 1]] & ~_PAD_BITS[pad] == 0


@contextmanager
def set_aside(attachments: Sequence[Base64Text]) -> Iterator[None]:
    """Put an empty twin (same name, same hint attributes, same tail) in place of each
    attachment for the duration, and the attachments back afterwards.

    The elements are moved, never copied, so this costs the same for 2 kB and 20 MB.
    Callers pass only attachments :func:`accepted_by_libxml2` accepted; an empty
    ``xs:base64Binary`` is valid, so the schema's verdict on the rest is unchanged.
    """
    swapped: list[tuple[etree._Element, etree._Element, etree._Element]] = []
    try:
        for attachment in attachments:
            element = attachment.element
            parent = element.getparent()
            if parent is None:
                continue
            hints = {str(name): str(value) for name, value in element.attrib.items()}
            twin = element.makeelement(element.tag, hints)
            twin.tail = element.tail
            parent.replace(element, twin)
            swapped.append((parent, element, twin))
        yield
    finally:
        for parent, element, twin in reversed(swapped):
            parent.replace(twin, element)


def declares_plain_base64(schema: etree._Element) -> bool:
    """Whether a schema document declares ``Base64Container`` as plain ``xs:base64Binary``
    content and nothing else (our own ``base64container.xsd`` and KITH's both do)."""
    if schema.tag != f"{_XSD}schema" or schema.get("targetNamespace") != BASE64_NAMESPACE:
        return False
    element = _only_child(schema, "element", {"name": "Base64Container"})
    complex_type = _only_child(element, "complexType", {})
    content = _only_child(complex_type, "simpleContent", {})
    extension = _only_child(content, "extension", None)
    if extension is None or set(extension.attrib) != {"base"} or _declarations(extension):
        return False
    prefix, _, local = (extension.get("base") or "").rpartition(":")
    return local == "base64Binary" and extension.nsmap.get(prefix or None) == _XSD[1:-1]


def _declarations(element: etree._Element) -> list[etree._Element]:
    return [
        child
        for child in element.iterchildren(tag=etree.Element)
        if child.tag != f"{_XSD}annotation"
    ]


def _only_child(
    element: etree._Element | None, name: str, attributes: dict[str, str] | None
) -> etree._Element | None:
    """The one declaration below ``element`` when it is ``xs:name`` with exactly
    ``attributes`` (``None``: not checked here), else ``None``."""
    if element is None:
        return None
    children = _declarations(element)
    if len(children) != 1 or children[0].tag != f"{_XSD}{name}":
        return None
    found = {str(name): str(value) for name, value in children[0].attrib.items()}
    if attributes is not None and found != attributes:
        return None
    return children[0]
