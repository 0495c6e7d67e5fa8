"""XSD validation with compiled schemas, and safe wording of what failed.

A message is validated in one pass: for MsgHead messages an in-memory schema
imports both MsgHead and the payload's namespace, so the envelope and the
payload (and base64 attachments) are checked together. Each combination is
compiled once and kept. Failures are worded by :mod:`schemas.reasons` from the
error's kind, the element path and the schema's names, never from the element's
text (which may be a fødselsnummer or clinical text).
"""

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from schemas.attachments import Base64Text, accepted, declares_plain_base64, set_aside
from schemas.catalogue_data import BASE64_NAMESPACE
from schemas.official import SchemaLibrary, SchemaResolver
from schemas.reasons import safe_path, schema_reason
from schemas.vocabulary import AppRecErrorCode

_MAX_REASON = 400


@dataclass(frozen=True, slots=True)
class ValidationFailure:
    """Why a message failed validation: an AppRec code and safe text."""

    code: AppRecErrorCode
    reason: str


def element_path(target: etree._Element, path: str | None) -> str:
    """libxml2's node path (``/*/*[2]/*``) as local names: ``/MsgHead/Document/RefDoc``."""
    if path:
        try:
            found = target.getroottree().xpath(path)
        except etree.XPathError:
            found = None
        if isinstance(found, list) and found and isinstance(found[0], etree._Element):
            element: etree._Element | None = found[0]
            names: list[str] = []
            while element is not None:
                names.append(etree.QName(element).localname)
                element = element.getparent()
            return "/" + "/".join(reversed(names))
    return safe_path(path)


class SchemaValidator:
    """Compiles schema combinations from a library once and validates trees against them."""

    def __init__(self, library: SchemaLibrary) -> None:
        self.library = library
        self._parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True)
        self._parser.resolvers.add(SchemaResolver(library))
        self._compiled: dict[tuple[str, ...], etree.XMLSchema] = {}
        self._failed: dict[tuple[str, ...], ValidationFailure] = {}
        self._lock = threading.Lock()
        self._checks_base64 = self._declares_plain_base64()

    def _declares_plain_base64(self) -> bool:
        """Whether attachments may be checked by :mod:`schemas.attachments` instead."""
        document = self.library.document(BASE64_NAMESPACE)
        if document is None:
            return False
        try:
            return declares_plain_base64(etree.fromstring(document, self._parser))
        except etree.XMLSyntaxError:
            return False

    def compile(self, namespaces: tuple[str, ...]) -> etree.XMLSchema | ValidationFailure:
        """The compiled schema for these namespaces, or why there is none (kept either way)."""
        schema = self._compiled.get(namespaces)
        if schema is not None:
            return schema
        failure = self._failed.get(namespaces)
        if failure is not None:
            return failure
        with self._lock:
            return self._compile_locked(namespaces)

    def _compile_locked(self, namespaces: tuple[str, ...]) -> etree.XMLSchema | ValidationFailure:
        if namespaces in self._compiled:
            return self._compiled[namespaces]
        missing = [namespace for namespace in namespaces if self.library.locate(namespace) is None]
        if missing:
            failure = ValidationFailure(
                AppRecErrorCode.T10,
                f"{self.library.name} have no schema for namespace {missing[0]}",
            )
            self._failed[namespaces] = failure
            return failure
        try:
            driver = etree.fromstring(self.library.driver(namespaces), self._parser)
            schema = etree.XMLSchema(driver)
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError) as exc:
            compile_log: Any = exc.error_log  # lxml-stubs lack _ErrorLog.last_error
            detail = str(compile_log.last_error or exc).split("\n")[0][:_MAX_REASON]
            failure = ValidationFailure(
                AppRecErrorCode.T99,
                f"the schema for {namespaces[-1]} in the {self.library.name} does not compile: "
                f"{detail}",
            )
            self._failed[namespaces] = failure
            return failure
        self._compiled[namespaces] = schema
        return schema

    def validate(
        self,
        target: etree._Element,
        namespaces: tuple[str, ...],
        attachments: Sequence[Base64Text] = (),
    ) -> ValidationFailure | None:
        """Validate ``target`` (a root or a subtree); ``None`` means valid.

        ``attachments`` in the tree whose base64 is sound are checked here and set aside
        while libxml2 validates the rest (the verdict is the same, at a fraction of the cost).
        """
        schema = self.compile(namespaces)
        if isinstance(schema, ValidationFailure):
            return schema
        checked = [text for text in attachments if accepted(text)] if self._checks_base64 else []
        with set_aside(checked):
            valid = schema.validate(target)
        if valid:
            return None
        error_log: Any = schema.error_log  # lxml-stubs lack len() and indexing of _ErrorLog
        error = error_log[0]
        path = element_path(target, error.path)
        extra = len(error_log) - 1
        more = f" (and {extra} more)" if extra > 0 else ""
        return ValidationFailure(
            AppRecErrorCode.T02, f"{schema_reason(error, path)[:_MAX_REASON]}{more}"
        )

    def compiled_count(self) -> int:
        """How many schema combinations are compiled (for start-up reports and tests)."""
        return len(self._compiled)
