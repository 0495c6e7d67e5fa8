"""The message catalogue: which standard a type code and payload namespace belong to.

The table itself is data (:mod:`schemas.catalogue_data`); this module only
indexes it. A message is identified by its type code (kodeverk 8279, or the
short codes E/H/R/S of the older basis messages) together with the namespace of
its payload (or of its own root for the basis messages and AppRec). Knowing the
entry tells the hub the family, the standard and version, where the parties sit,
which schema validates it and which AppRec version answers it.
"""

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from schemas.catalogue_data import ENTRIES
from schemas.catalogue_entry import CatalogueEntry, Container, PartyLayout
from schemas.vocabulary import Family

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

__all__ = ["Catalogue", "CatalogueEntry", "Classification", "Container", "PartyLayout", "lookup"]


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of a catalogue look-up: an entry, or family ``other`` with the reason."""

    entry: CatalogueEntry | None
    family: Family
    standard: str
    version: str
    reason: str | None = None
    """Why the message is not a known standard (``None`` when it is)."""
    mismatch: bool = False
    """The namespace is known but the type code belongs to another standard."""


class Catalogue:
    """Index over the catalogue rows by exact namespace and by dated-series prefix."""

    def __init__(self, entries: tuple[CatalogueEntry, ...]) -> None:
        self.entries = entries
        self._exact: dict[str, CatalogueEntry] = {}
        self._series: dict[str, CatalogueEntry] = {}
        for entry in entries:
            index = self._series if entry.dated_series else self._exact
            if entry.namespace in index:
                raise ValueError(f"catalogue lists namespace {entry.namespace} twice")
            index[entry.namespace] = entry

    def by_namespace(self, namespace: str) -> tuple[CatalogueEntry, str] | None:
        """The entry for a payload namespace and the version it denotes, or ``None``."""
        entry = self._exact.get(namespace)
        if entry is not None:
            return entry, entry.version
        prefix, _, date = namespace.rpartition("/")
        entry = self._series.get(prefix + "/")
        if entry is not None and _DATE.fullmatch(date):
            return entry, date
        return None

    def lookup(self, type_code: str, namespace: str) -> CatalogueEntry | None:
        """The entry when ``type_code`` and ``namespace`` agree on a known standard."""
        found = self.by_namespace(namespace)
        if found is None or not found[0].accepts_type(type_code):
            return None
        return found[0]

    def classify(self, type_code: str | None, namespace: str | None) -> Classification:
        """Classify a message; unknown codes or namespaces become ``other`` with a reason."""
        if not namespace:
            return Classification(None, Family.OTHER, "", "", "the message has no payload")
        found = self.by_namespace(namespace)
        if found is None:
            return Classification(
                None, Family.OTHER, "", "", "the payload namespace is not in the catalogue"
            )
        entry, version = found
        if not type_code:
            return Classification(
                entry, entry.family, entry.standard, version, "the message has no type code", True
            )
        if not entry.accepts_type(type_code):
            return Classification(
                entry,
                entry.family,
                entry.standard,
                version,
                f"the type code is not a {entry.standard} {version} message type",
                True,
            )
        return Classification(entry, entry.family, entry.standard, version)

    def apprec_version_for(self, standard: str, version: str) -> Literal["1.0", "1.1"] | None:
        """The AppRec version that answers messages of ``standard`` ``version``."""
        for entry in self.entries:
            if entry.standard == standard and (entry.version == version or entry.dated_series):
                return entry.apprec_version
        return None

    def namespaces(self) -> tuple[str, ...]:
        """Every exact namespace in the catalogue (dated series are listed by prefix)."""
        return tuple(self._exact) + tuple(self._series)


@cache
def default_catalogue() -> Catalogue:
    """The hub's catalogue, built once from :mod:`schemas.catalogue_data`."""
    return Catalogue(ENTRIES)


def lookup(type_code: str, namespace: str) -> CatalogueEntry | None:
    """Shortcut for ``default_catalogue().lookup(type_code, namespace)``."""
    return default_catalogue().lookup(type_code, namespace)
