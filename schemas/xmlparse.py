"""Hardened XML parsing: the only way message bytes become an lxml tree.

Messages come from outside the hub, so the parser never loads a DTD, never
expands an entity and never touches the network. Before lxml sees the bytes,
the size is checked, the encoding is taken from the XML declaration, and a
DOCTYPE anywhere in the prolog is refused outright. After parsing, element depth
and attribute counts are checked against the limits.

Codes (kodeverk 8221) for each failure:

=====================================================  =====
failure                                                 code
=====================================================  =====
not well-formed, truncated, bytes wrong for encoding    T01
no XML declaration and the bytes are not UTF-8          T01
declared encoding the hub does not read                 T01
larger than ``max_message_bytes``                       T99
DOCTYPE (DTD, entity declarations)                      T99
deeper than ``max_depth`` or more than
``max_attributes`` attributes on one element            T99
more elements and attributes than the size allows       T99
a byte order that is not ASCII-compatible (UTF-16/32)   T01
=====================================================  =====

The element and attribute budget grows with the document (``node_floor`` plus one
per ``bytes_per_node`` bytes): a tree costs about 120 bytes of memory per node
whatever its text, so a document of empty elements would otherwise cost thirty
times its size. Real documents need one node per 24 to 70 bytes; large ones are
large because of their text (attachments), not their element count.
"""

import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree

from schemas.errors import MessageRejectedError
from schemas.reasons import syntax_reason
from schemas.vocabulary import AppRecErrorCode

SUPPORTED_ENCODINGS = frozenset(
    {"utf-8", "utf8", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"}
)
"""Encodings real senders declare (ISO-8859-1 and UTF-8); both are ASCII-compatible."""

_DECLARATION_START = re.compile(rb"<\?xml[ \t\r\n]")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_BOM = b"\xef\xbb\xbf"
_FOREIGN_BYTE_ORDERS = (
    b"\xfe\xff",  # UTF-16 BE (UTF-32 LE starts with FF FE too)
    b"\xff\xfe",
    b"\x00\x00\xfe\xff",
    b"\x00",  # UTF-16/32 without a byte-order mark: the first character has a zero byte
    b"\x4c\x6f\xa7\x94",  # EBCDIC "<?xm"
)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """The limits every message is held to (from :class:`schemas.settings.SchemaSettings`)."""

    max_bytes: int = 35 * 1024 * 1024
    max_depth: int = 256
    max_attributes: int = 64
    node_floor: int = 20_000
    """Elements plus attributes any document may have, however small."""
    bytes_per_node: int = 32
    """... and one more per this many bytes of document."""

    def max_nodes(self, size: int) -> int:
        """Elements plus attributes a document of ``size`` bytes may have."""
        return self.node_floor + size // self.bytes_per_node


_local = threading.local()
_LIBXML_DEPTH = 256
"""libxml2's own nesting limit (exactly 256 levels) without ``huge_tree``."""
_LIBXML_HUGE_DEPTH = 2048
"""... and with ``huge_tree``, which lifts the 10 MB limit on one text node."""
_LIBXML_TEXT_LIMIT = 10_000_000
_NON_BLANK = re.compile(rb"\S")
_FEED_CHUNK = 256 * 1024
_COUNT_CHUNK = 64 * 1024
_SPARSE = 8
"""Marks in a chunk below which hopping with ``find`` (memchr) beats ``bytes.count``."""


def _parser(huge: bool) -> etree.XMLParser:
    """One parser of each kind per thread: lxml parsers must not be shared between threads.

    The normal parser lets libxml2 enforce the default depth limit (256) itself;
    the huge one is needed only for messages whose text nodes may exceed 10 MB
    (base64 attachments) or when a deeper limit is configured.
    """
    name = "huge_parser" if huge else "parser"
    parser: etree.XMLParser | None = getattr(_local, name, None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            load_dtd=False,
            dtd_validation=False,
            no_network=True,
            huge_tree=huge,
            collect_ids=False,
            remove_comments=False,
        )
        setattr(_local, name, parser)
    return parser


def _declaration(raw: bytes) -> bytes | None:
    """The whole XML declaration, however long, or ``None`` when there is none."""
    start = 3 if raw.startswith(_BOM) else 0
    if _DECLARATION_START.match(raw, start) is None:
        return None
    end = raw.find(b"?>", start)
    if end < 0:
        raise MessageRejectedError(AppRecErrorCode.T01, "the XML declaration is not closed")
    return raw[start : end + 2]


def declared_encoding(raw: bytes) -> str | None:
    """The encoding named in the XML declaration, lower-cased, or ``None``."""
    declaration = _declaration(raw)
    if declaration is None:
        return None
    encoding = _ENCODING.search(declaration)
    if encoding is None:
        if b"encoding" in declaration:
            raise MessageRejectedError(AppRecErrorCode.T01, "the declared encoding is not readable")
        return None
    return encoding.group(1).decode("ascii").lower()


def _reject_foreign_byte_order(raw: bytes) -> None:
    """Refuse UTF-16, UTF-32 and EBCDIC: every byte-level check here assumes ASCII bytes."""
    if raw.startswith(_FOREIGN_BYTE_ORDERS) or b"\x00" in raw:
        raise MessageRejectedError(
            AppRecErrorCode.T01,
            "the byte order is not ASCII-compatible (UTF-16, UTF-32 or EBCDIC); "
            "send UTF-8 or ISO-8859-1",
        )


def _reject_doctype(raw: bytes) -> None:
    """Refuse a DOCTYPE anywhere in the prolog, however long, without letting a parser read it."""
    position = 3 if raw.startswith(_BOM) else 0
    declaration = _declaration(raw)
    if declaration is not None:
        position += len(declaration)
    end = len(raw)
    while position < end:
        while position < end and raw[position] in b" \t\r\n":
            position += 1
        if raw.startswith(b"<!--", position):
            close = raw.find(b"-->", position + 4)
            if close < 0:
                return  # unterminated comment: the parser reports it as T01
            position = close + 3
        elif raw.startswith(b"<?", position):
            close = raw.find(b"?>", position + 2)
            if close < 0:
                return
            position = close + 2
        elif raw.startswith(b"<!", position) and raw[position + 2 : position + 9].upper() == (
            b"DOCTYPE"
        ):
            raise MessageRejectedError(
                AppRecErrorCode.T99,
                "DOCTYPE is not allowed: messages may not declare a DTD or entities",
            )
        else:
            return


def _check_encoding(raw: bytes) -> None:
    encoding = declared_encoding(raw)
    if encoding is None:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageRejectedError(
                AppRecErrorCode.T01,
                f"no encoding is declared and byte {exc.start} is not UTF-8; "
                "declare the encoding (e.g. ISO-8859-1) in the XML declaration",
            ) from None
    elif encoding not in SUPPORTED_ENCODINGS:
        raise MessageRejectedError(
            AppRecErrorCode.T01, f"encoding {encoding!r} is not supported (use UTF-8 or ISO-8859-1)"
        )


def _check_shape(root: etree._Element, limits: ParseLimits, native_depth: int) -> None:
    if limits.max_depth < native_depth and _too_deep(root, limits.max_depth):
        raise MessageRejectedError(
            AppRecErrorCode.T99, f"elements are nested deeper than {limits.max_depth} levels"
        )
    if _too_many_attributes(root, limit=limits.max_attributes):
        raise MessageRejectedError(
            AppRecErrorCode.T99, f"an element has more than {limits.max_attributes} attributes"
        )


def _xpath(expression: str) -> etree.XPath:
    """A compiled XPath, cached per thread (compiled XPath objects are not shared)."""
    cache: dict[str, etree.XPath] | None = getattr(_local, "xpaths", None)
    if cache is None:
        cache = _local.xpaths = {}
    compiled = cache.get(expression)
    if compiled is None:
        compiled = cache[expression] = etree.XPath(expression)
    return compiled


def _too_deep(root: etree._Element, max_depth: int) -> bool:
    # Only leaves can be deepest; count(ancestor::*) runs in C.
    return bool(_xpath(f"boolean(//*[not(*)][count(ancestor::*) >= {max_depth}])")(root))


def _too_many_attributes(root: etree._Element, limit: int) -> bool:
    # An element with more than ``limit`` attributes has a (limit + 1)th one; libxml2 stops
    # at the position instead of counting every element's attributes (half the time).
    return bool(_xpath(f"boolean(descendant-or-self::*/@*[{limit + 1}])")(root))


def _parse_counting(raw: bytes, budget: int, huge: bool) -> etree._Element:
    """Parse in chunks, counting elements and attributes; stop as soon as they exceed ``budget``.

    Only documents whose bytes could hold more nodes than allowed come here, so the
    tree never grows past the budget before the document is refused.
    """
    parser = etree.XMLPullParser(
        events=("start",),
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=huge,
        collect_ids=False,
    )
    nodes = 0
    for offset in range(0, len(raw), _FEED_CHUNK):
        parser.feed(raw[offset : offset + _FEED_CHUNK])
        for _event, element in parser.read_events():
            if isinstance(element, etree._Element):  # "start" events carry elements only
                nodes += 1 + len(element.attrib)
        if nodes > budget:
            raise MessageRejectedError(
                AppRecErrorCode.T99,
                f"more than {budget} elements and attributes; a document of {len(raw)} bytes "
                "may have no more",
            )
    root: etree._Element = parser.close()
    return root


def _within_budget(raw: bytes, budget: int) -> bool:
    """Whether ``raw`` cannot hold more than ``budget`` elements and attributes.

    Each element takes at least four bytes of markup (``<a/>``) and each attribute
    another four (``a=""``), so a document of up to four bytes per node needs no
    counting. Larger ones count their ``<`` and ``=`` (one of each per element and
    attribute): by hopping from one to the next where they are sparse (attachments,
    long text), and with ``bytes.count`` where they are dense.
    """
    if len(raw) // 4 <= budget:
        return True
    found = 0
    for start in range(0, len(raw), _COUNT_CHUNK):
        end = start + _COUNT_CHUNK
        for mark in b"<=":
            found += _count_mark(raw, mark, start, end)
        if found > budget:
            return False
    return True


def _count_mark(raw: bytes, mark: int, start: int, end: int) -> int:
    """``raw.count(mark, start, end)``, by hops when the mark is rare in that range."""
    found = 0
    position = raw.find(mark, start, end)
    while position >= 0:
        found += 1
        if found > _SPARSE:
            return raw.count(mark, start, end)
        position = raw.find(mark, position + 1, end)
    return found


def parse_message(raw: bytes, limits: ParseLimits) -> etree._Element:
    """Parse message bytes into a tree, or raise :class:`MessageRejectedError` with its code."""
    if len(raw) > limits.max_bytes:
        raise MessageRejectedError(
            AppRecErrorCode.T99,
            f"message is {len(raw)} bytes, larger than the limit of {limits.max_bytes} bytes",
        )
    if _NON_BLANK.search(raw) is None:
        raise MessageRejectedError(AppRecErrorCode.T01, "message is empty")
    _reject_foreign_byte_order(raw)
    _reject_doctype(raw)
    _check_encoding(raw)
    huge = len(raw) > _LIBXML_TEXT_LIMIT or limits.max_depth > _LIBXML_DEPTH
    budget = limits.max_nodes(len(raw))
    try:
        if _within_budget(raw, budget):
            root = etree.fromstring(raw, _parser(huge))
        else:
            root = _parse_counting(raw, budget, huge)
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            raise MessageRejectedError(
                AppRecErrorCode.T99, f"elements are nested deeper than {limits.max_depth} levels"
            ) from None
        raise MessageRejectedError(AppRecErrorCode.T01, syntax_reason(exc)) from None
    except ValueError as exc:  # lxml refuses some inputs before libxml2 sees them
        raise MessageRejectedError(
            AppRecErrorCode.T01, f"unreadable input: {type(exc).__name__}"
        ) from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype:  # belt and braces: the prolog scan should have caught it
        raise MessageRejectedError(AppRecErrorCode.T99, "DOCTYPE is not allowed")
    _check_shape(root, limits, _LIBXML_HUGE_DEPTH if huge else _LIBXML_DEPTH)
    return root
