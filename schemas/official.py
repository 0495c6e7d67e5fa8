"""Where schemas come from: our built-in XSDs, or an official folder with OASIS catalogs.

Both are *schema libraries*: they turn a namespace into a location and serve the
schema documents behind those locations to lxml through a :class:`SchemaResolver`.

The official folder (the directorate's ``skjema/``) cannot be loaded as it is:
its catalogs name files that moved, xmldsig carries a DOCTYPE with an internal
entity, and many imports have no usable ``schemaLocation``. So every official
schema document is read by us first — with a parser that loads no DTD and
expands no entity — its DOCTYPE (if any) removed, and every ``import`` rewritten
to the file the catalog gives for its *namespace* (``include`` to the file it
names, found by name when the path is stale). lxml only ever sees those cleaned
documents. None of this touches how *messages* are parsed.
"""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from lxml import etree

from schemas.catalogue import Catalogue
from schemas.catalogue_data import BASE64_NAMESPACE, MSGHEAD_NAMESPACE
from schemas.errors import SchemaConfigError

XSD_NAMESPACE = "http://www.w3.org/2001/XMLSchema"
CATALOG_NAMESPACE = "urn:oasis:names:tc:entity:xmlns:xml:catalog"
BUILTIN_DIR = Path(__file__).resolve().parent / "xsd"
_MEMORY_SCHEME = "meldingshub-schema:"
_DOCTYPE = re.compile(rb"<!DOCTYPE[^\[>]*(\[.*?\]\s*)?>", re.DOTALL)
_TARGET_NAMESPACE = re.compile(rb"""targetNamespace\s*=\s*["']([^"']+)["']""")


def _schema_parser() -> etree.XMLParser:
    """Parser for schema documents: no DTD, no entities, no network."""
    return etree.XMLParser(
        resolve_entities=False, load_dtd=False, no_network=True, remove_comments=True
    )


def memory_url(kind: str, namespace: str) -> str:
    """A location lxml cannot load by itself, served from memory by the resolver."""
    return f"{_MEMORY_SCHEME}{kind}/{quote(namespace, safe='')}"


def _path_of(url: str) -> Path | None:
    if url.startswith("file://"):
        url = unquote(url[len("file://") :])
    if "://" in url or url.startswith(_MEMORY_SCHEME):
        return None
    return Path(url)


class SchemaLibrary:
    """Namespace -> schema location, and the documents behind the locations."""

    name = "schemas"

    def locate(self, namespace: str) -> str | None:
        """The location to import ``namespace`` from, or ``None`` when this library lacks it."""
        raise NotImplementedError

    def load(self, url: str) -> bytes | None:
        """The document at ``url`` if this library serves it (``None``: let lxml read it)."""
        raise NotImplementedError

    def document(self, namespace: str) -> bytes | None:
        """The schema document lxml is given for ``namespace`` (for checks at start-up)."""
        location = self.locate(namespace)
        if location is None:
            return None
        path = _path_of(location)
        try:
            return self.load(location) or (path.read_bytes() if path else None)
        except OSError:
            return None

    def driver(self, namespaces: Iterable[str]) -> bytes:
        """An in-memory schema importing each namespace: one compiled object validates all."""
        imports = []
        for namespace in namespaces:
            location = self.locate(namespace)
            if location is None:
                raise KeyError(namespace)
            imports.append(
                f'<xs:import namespace="{_attr(namespace)}" schemaLocation="{_attr(location)}"/>'
            )
        return (
            f'<xs:schema xmlns:xs="{XSD_NAMESPACE}">' + "".join(imports) + "</xs:schema>"
        ).encode()


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


class SchemaResolver(etree.Resolver):
    """Hands lxml the documents a :class:`SchemaLibrary` serves."""

    def __init__(self, library: SchemaLibrary) -> None:
        super().__init__()
        self.library = library

    def resolve(self, system_url: str, public_id: str, context: Any = None) -> Any:
        if not system_url:
            return None
        document = self.library.load(system_url)
        if document is None:
            return None
        return self.resolve_string(document, context, base_url=system_url)


class BuiltinLibrary(SchemaLibrary):
    """Our own XSDs in ``schemas/xsd``, indexed through the catalogue.

    Chameleon schemas (no targetNamespace: the basis, PLO and e-resept frames) are
    wrapped in memory once per namespace of the catalogue.
    """

    name = "built-in schemas"

    def __init__(self, catalogue: Catalogue, directory: Path = BUILTIN_DIR) -> None:
        self.catalogue = catalogue
        self.directory = directory
        self._fixed = {
            MSGHEAD_NAMESPACE: directory / "msghead-v1.2.xsd",
            BASE64_NAMESPACE: directory / "base64container.xsd",  # imported by MsgHead
        }
        self._chameleon: dict[str, bool] = {}

    def _is_chameleon(self, file: Path) -> bool:
        known = self._chameleon.get(file.name)
        if known is None:
            known = _TARGET_NAMESPACE.search(file.read_bytes()[:4096]) is None
            self._chameleon[file.name] = known
        return known

    def locate(self, namespace: str) -> str | None:
        fixed = self._fixed.get(namespace)
        if fixed is not None:
            return fixed.as_posix()
        found = self.catalogue.by_namespace(namespace)
        if found is None or found[0].builtin_xsd is None:
            return None
        file = self.directory / found[0].builtin_xsd
        if self._is_chameleon(file):
            return memory_url("builtin", namespace)
        return file.as_posix()

    def load(self, url: str) -> bytes | None:
        prefix = _MEMORY_SCHEME + "builtin/"
        if not url.startswith(prefix):
            return None
        namespace = unquote(url[len(prefix) :])
        found = self.catalogue.by_namespace(namespace)
        if found is None or found[0].builtin_xsd is None:
            return None
        include = (self.directory / found[0].builtin_xsd).as_posix()
        return (
            f'<xs:schema xmlns:xs="{XSD_NAMESPACE}" targetNamespace="{_attr(namespace)}"'
            ' elementFormDefault="qualified" attributeFormDefault="unqualified">'
            f'<xs:include schemaLocation="{_attr(include)}"/></xs:schema>'
        ).encode()


class OfficialLibrary(SchemaLibrary):
    """An official schema folder resolved through its OASIS catalogs."""

    def __init__(self, directory: Path) -> None:
        if not directory.is_dir():
            raise SchemaConfigError(
                f"official schema folder {directory} does not exist; "
                "point MELDINGSHUB_SCHEMAS__OFFICIAL_DIR at the directorate's schema folder"
            )
        self.directory = directory.resolve()
        self.name = f"official schemas in {directory}"
        self._files: dict[str, list[Path]] = {}
        for file in sorted(self.directory.rglob("*.xsd")):
            self._files.setdefault(file.name.lower(), []).append(file)
        self._catalog: dict[str, Path] = {}
        catalogs = sorted(self.directory.glob("*atalog*.xml"))
        for catalog in catalogs:
            self._read_catalog(catalog)
        if not catalogs:
            raise SchemaConfigError(f"no OASIS catalog (*Catalog.xml) in {directory}")
        self._by_target: dict[str, list[Path]] | None = None
        self._documents: dict[Path, bytes] = {}

    def _read_catalog(self, catalog: Path) -> None:
        try:
            tree = etree.parse(str(catalog), _schema_parser())
        except etree.XMLSyntaxError:
            return
        for entry in tree.getroot().iter(
            f"{{{CATALOG_NAMESPACE}}}uri", f"{{{CATALOG_NAMESPACE}}}public"
        ):
            namespace = entry.get("name") or entry.get("publicId")
            target = entry.get("uri")
            if not namespace or not target or namespace in self._catalog:
                continue
            file = self._existing(catalog.parent / target)
            if file is not None:
                self._catalog[namespace] = file

    def _existing(self, path: Path) -> Path | None:
        """The file itself, or a file of the same name elsewhere in the folder (paths drift)."""
        if path.is_file():
            return path.resolve()
        candidates = self._files.get(path.name.lower(), [])
        return candidates[0] if len(candidates) == 1 else None

    def _target_index(self) -> dict[str, list[Path]]:
        if self._by_target is None:
            index: dict[str, list[Path]] = {}
            for files in self._files.values():
                for file in files:
                    found = _TARGET_NAMESPACE.search(file.read_bytes()[:8192])
                    if found:
                        namespace = found.group(1).decode("utf-8", "replace")
                        index.setdefault(namespace, []).append(file)
            for files in index.values():  # prefer the strict schema over "-loose" variants
                files.sort(key=lambda file: ("loose" in file.name.lower(), len(file.name)))
            self._by_target = index
        return self._by_target

    def file_for(self, namespace: str) -> Path | None:
        """The schema file of ``namespace``: from the catalog, else by its targetNamespace."""
        file = self._catalog.get(namespace)
        if file is not None:
            return file
        candidates = self._target_index().get(namespace)
        return candidates[0] if candidates else None

    def namespaces(self) -> set[str]:
        """Every namespace the folder has a schema for."""
        return set(self._catalog) | set(self._target_index())

    def locate(self, namespace: str) -> str | None:
        file = self.file_for(namespace)
        return file.as_posix() if file is not None else None

    def load(self, url: str) -> bytes | None:
        path = _path_of(url)
        if path is None or not path.is_absolute():
            return None
        path = path.resolve()
        if self.directory not in path.parents or not path.is_file():
            return None  # libxml2 then reports the import it could not load
        document = self._documents.get(path)
        if document is None:
            try:
                document = self._clean(path)
            except (OSError, etree.XMLSyntaxError):
                return None
            self._documents[path] = document
        return document

    def _clean(self, path: Path) -> bytes:
        """The schema document with its DOCTYPE removed and imports pointed at real files."""
        raw = path.read_bytes()
        start = raw.find(b"<!DOCTYPE", 0, 4096)
        doctype = _DOCTYPE.match(raw, start) if start >= 0 else None
        if doctype is not None:  # xmldsig's DOCTYPE only declares what the schema spells out
            raw = raw[:start] + raw[doctype.end() :]
        root = etree.fromstring(raw, _schema_parser(), base_url=path.as_posix())
        for element in root.iter(
            f"{{{XSD_NAMESPACE}}}import",
            f"{{{XSD_NAMESPACE}}}include",
            f"{{{XSD_NAMESPACE}}}redefine",
        ):
            location = element.get("schemaLocation")
            target: Path | None = None
            namespace = element.get("namespace")
            if element.tag.endswith("import") and namespace:
                target = self.file_for(namespace)
            if target is None and location and "://" not in location:
                target = self._existing(path.parent / location)
            if target is not None:
                element.set("schemaLocation", target.as_posix())
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")
