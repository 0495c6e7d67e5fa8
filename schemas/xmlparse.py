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
=====================================================  =====
"""

import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree

from schemas.errors import MessageRejectedError
from schemas.reasons import syntax_reason
from schemas.vocabulary import AppRecError

SUPPORTED_ENCODINGS = frozenset(
    {"utf-8", "utf8", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii"}
)
"""Encodings real senders declare (ISO-8859-1 and UTF-8); both are ASCII-compatible."""

_DECLARATION = re.compile(rb"<\?xml\s[^>]{0,200}?\?>")
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_BOM = b"\xef\xbb\xbf"
_PROLOG_SCAN_LIMIT = 64 * 1024
"""Comments and processing instructions before the root are scanned up to this many bytes."""


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """The limits every message is held to (from :class:`schemas.settings.SchemaSettings`)."""

    max_bytes: int = 35 * 1024 * 1024
    max_depth: int = 256
    max_attributes: int = 64


_local = threading.local()
_LIBXML_DEPTH = 256
"""libxml2's own nesting limit (exactly 256 levels) without ``huge_tree``."""
_LIBXML_HUGE_DEPTH = 2048
"""... and with ``huge_tree``, which lifts the 10 MB limit on one text node."""
_LIBXML_TEXT_LIMIT = 10_000_000
_NON_BLANK = re.compile(rb"\S")


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


def declared_encoding(raw: bytes) -> str | None:
    """The encoding named in the XML declaration, lower-cased, or ``None``."""
    start = 3 if raw.startswith(_BOM) else 0
    declaration = _DECLARATION.match(raw, start)
    if declaration is None:
        return None
    encoding = _ENCODING.search(declaration.group(0))
    return encoding.group(1).decode("ascii").lower() if encoding else None


def _reject_doctype(raw: bytes) -> None:
    """Refuse a DOCTYPE in the prolog without letting any parser read it."""
    position = 3 if raw.startswith(_BOM) else 0
    declaration = _DECLARATION.match(raw, position)
    if declaration is not None:
        position = declaration.end()
    end = min(len(raw), _PROLOG_SCAN_LIMIT)
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
                AppRecError.T99,
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
                AppRecError.T01,
                f"no encoding is declared and byte {exc.start} is not UTF-8; "
                "declare the encoding (e.g. ISO-8859-1) in the XML declaration",
            ) from None
    elif encoding not in SUPPORTED_ENCODINGS:
        raise MessageRejectedError(
            AppRecError.T01, f"encoding {encoding!r} is not supported (use UTF-8 or ISO-8859-1)"
        )


def _check_shape(root: etree._Element, limits: ParseLimits, native_depth: int) -> None:
    if limits.max_depth < native_depth and _too_deep(root, limits.max_depth):
        raise MessageRejectedError(
            AppRecError.T99, f"elements are nested deeper than {limits.max_depth} levels"
        )
    if _too_many_attributes(root, limit=limits.max_attributes):
        raise MessageRejectedError(
            AppRecError.T99, f"an element has more than {limits.max_attributes} attributes"
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
    return bool(_xpath(f"boolean(//*[count(@*) > {limit}])")(root))


def parse_message(raw: bytes, limits: ParseLimits) -> etree._Element:
    """Parse message bytes into a tree, or raise :class:`MessageRejectedError` with its code."""
    if len(raw) > limits.max_bytes:
        raise MessageRejectedError(
            AppRecError.T99,
            f"message is {len(raw)} bytes, larger than the limit of {limits.max_bytes} bytes",
        )
    if _NON_BLANK.search(raw) is None:
        raise MessageRejectedError(AppRecError.T01, "message is empty")
    _reject_doctype(raw)
    _check_encoding(raw)
    huge = len(raw) > _LIBXML_TEXT_LIMIT or limits.max_depth > _LIBXML_DEPTH
    try:
        root = etree.fromstring(raw, _parser(huge))
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):
            raise MessageRejectedError(
                AppRecError.T99, f"elements are nested deeper than {limits.max_depth} levels"
            ) from None
        raise MessageRejectedError(AppRecError.T01, syntax_reason(exc)) from None
    except ValueError as exc:  # lxml refuses some inputs before libxml2 sees them
        raise MessageRejectedError(
            AppRecError.T01, f"unreadable input: {type(exc).__name__}"
        ) from None
    docinfo: Any = root.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
    if docinfo.doctype:  # belt and braces: the prolog scan should have caught it
        raise MessageRejectedError(AppRecError.T99, "DOCTYPE is not allowed")
    _check_shape(root, limits, _LIBXML_HUGE_DEPTH if huge else _LIBXML_DEPTH)
    return root
