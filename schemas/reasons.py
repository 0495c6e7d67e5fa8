"""Rejection reasons worded from what the hub owns, never from the document's text.

libxml2's messages quote the offending value, and a value can hold quotes or
apostrophes of its own, so no filter over that text is safe. A reason is
built instead from the error's type (a closed set in lxml), the element path,
and names that libxml2 takes from the schema (the expected elements and the
simple type), each checked to be an XML name before it is used.
"""

import re
from typing import Any

from lxml import etree

_XML_NAME = re.compile(r"[A-Za-z_][\w.\-]*(:[A-Za-z_][\w.\-]*)?")
# The head of a schema message: names only (an XML name cannot contain an apostrophe).
_HEAD = re.compile(r"^Element '(?:\{[^}']*\})?([^'{}]+)'(?:, attribute '([^']+)')?: ")
# A simple type is named at the very end: "... of the atomic type 'xs:dateTime'."
_TYPE_AT_END = re.compile(r"type '(?:\{[^}']*\})?([^'{}]+)'\.?$")
# Elements the schema expected: "Expected is ( {ns}A, B )" or "Expected is one of ( ... )".
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^()']*) \)\.?$")
_PATH_STEP = re.compile(r"\*\[local-name\(\)\s*=\s*'([^']+)'[^\]]*\]|[A-Za-z0-9_]+:")

_RULES: dict[str, str] = {
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "type",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_2": "type",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_3": "type",
    "SCHEMAV_CVC_FACET_VALID": "type",
    "SCHEMAV_CVC_PATTERN_VALID": "pattern",
    "SCHEMAV_CVC_ENUMERATION_VALID": "enumeration",
    "SCHEMAV_CVC_LENGTH_VALID": "length",
    "SCHEMAV_CVC_MINLENGTH_VALID": "length",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "length",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "range",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "range",
    "SCHEMAV_CVC_MINEXCLUSIVE_VALID": "range",
    "SCHEMAV_CVC_MAXEXCLUSIVE_VALID": "range",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "digits",
    "SCHEMAV_CVC_FRACTIONDIGITS_VALID": "digits",
    "SCHEMAV_CVC_COMPLEX_TYPE_4": "missing",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "unexpected",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "unexpected",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_1": "content",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_3": "content",
    "SCHEMAV_CVC_TYPE_3_1_2": "content",
    "SCHEMAV_CVC_ELT_1": "undeclared",
    "SCHEMAV_CVC_AU": "fixed",
    "SCHEMAV_CVC_ELT_5_2_2_2_1": "fixed",
    "SCHEMAV_CVC_ELT_5_2_2_2_2": "fixed",
    "SCHEMAV_CVC_IDC": "identity",
    "SCHEMAV_CVC_WILDCARD": "unexpected",
}


def _names(text: str) -> list[str]:
    """Local names from a comma-separated list of ``{ns}name``; empty if any is not a name."""
    names = [item.strip().rsplit("}", 1)[-1] for item in text.split(",")]
    return names if all(_XML_NAME.fullmatch(name) for name in names) else []


def _rule(type_name: str, message: str) -> str:
    """The kind of rule broken; content-model errors say whether something is missing."""
    if type_name in ("SCHEMAV_ELEMENT_CONTENT", "SCHEMAV_CVC_COMPLEX_TYPE_2_4"):
        return "missing" if message.split(": ", 1)[-1].startswith("Missing") else "unexpected"
    return _RULES.get(type_name) or type_name.lower()


def schema_reason(error: Any, path: str) -> str:
    """``<path>[/@attribute]: <rule>[ (<schema names>)]`` for one libxml2 validation error.

    ``error`` is an lxml ``_LogEntry``; its ``type_name`` comes from lxml's closed
    ``ErrorTypes``, and only names that libxml2 takes from the schema are kept.
    """
    message: str = error.message or ""
    type_name: str = error.type_name or "SCHEMAV_UNKNOWN"
    rule = _rule(type_name, message)
    head = _HEAD.match(message)
    attribute = head.group(2) if head else None
    where = f"{path}/@{attribute}" if attribute and _XML_NAME.fullmatch(attribute) else path
    detail = ""
    if rule == "type" and (found := _TYPE_AT_END.search(message)):
        if _XML_NAME.fullmatch(found.group(1)):
            detail = f" (expected {found.group(1)})"
    elif rule in ("missing", "unexpected") and (expected := _EXPECTED.search(message)):
        names = _names(expected.group(1))
        if names:
            detail = f" (expected {' or '.join(names[:5])})"
    return f"{where}: {rule}{detail}"


def syntax_reason(exc: etree.XMLSyntaxError) -> str:
    """Where the document stops being well-formed, and libxml2's error kind (no input bytes)."""
    line, column = exc.position if exc.position else (0, 0)
    kind = etree.ErrorTypes._getName(exc.code, "ERR_UNKNOWN")  # type: ignore[attr-defined]
    rule = kind.removeprefix("ERR_").lower().replace("_", " ")
    return f"not well-formed at line {line} column {column}: {rule}"


def safe_path(path: str | None) -> str:
    """An element path with prefixes and namespace predicates reduced to local names."""
    if not path:
        return "/"
    return _PATH_STEP.sub(lambda match: match.group(1) or "", path)
