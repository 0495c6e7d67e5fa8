"""One catalogue entry: the facts the hub needs about one standard version.

Its own module so that the data modules (:mod:`schemas.catalogue_data`,
:mod:`schemas.catalogue_other`) and the index (:mod:`schemas.catalogue`) import it
without importing each other.
"""

from dataclasses import dataclass
from typing import Literal

from schemas.vocabulary import Category, Family

Container = Literal["msghead", "message", "apprec"]
"""How the document arrives: in MsgHead, with its own ``Message`` root, or as ``AppRec``."""


@dataclass(frozen=True, slots=True)
class PartyLayout:
    """Where sender, receiver and copy receivers sit in a document.

    ``style`` ``organisation`` is MsgHead's ``Organisation`` tree (Ident/TypeId);
    ``hcp`` is the ``HCP/Inst`` structure of the basis messages and AppRec.
    Element names are local names below ``container`` (empty: the root).
    """

    style: Literal["organisation", "hcp"]
    container: str
    sender: str
    receiver: str
    copies: str | None


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One standard version: the facts the hub needs to handle its messages."""

    family: Family
    standard: str
    version: str
    namespace: str
    """The payload (or root) namespace; for dated series (e-resept) the prefix before the date."""
    type_codes: tuple[str, ...]
    """Accepted type codes; a trailing ``*`` accepts every code with that prefix, and ``*``
    alone any code (the standard has no code of kodeverk 8279 the hub knows)."""
    container: Container
    parties: PartyLayout
    apprec_version: Literal["1.0", "1.1"] | None
    """The AppRec version that answers this message; ``None`` for AppRec itself."""
    payload_roots: tuple[str, ...]
    """Local names allowed for the payload root; empty means not checked."""
    builtin_xsd: str | None
    """Our own schema file in ``schemas/xsd``; ``None`` means envelope-only validation."""
    dated_series: bool = False
    """``namespace`` is a prefix; the version is the date that follows it."""
    receiver_category: Category | None = None
    """The national body whose traffic this is (the receiver of its requests and reports,
    the sender of its answers), as the statistics count it; ``None``: messages between
    health services, counted by the register's categories of the parties alone."""

    def accepts_type(self, type_code: str) -> bool:
        """Whether ``type_code`` is one of this standard's message types."""
        for code in self.type_codes:
            if code.endswith("*"):
                if type_code.startswith(code[:-1]):
                    return True
            elif code == type_code:
                return True
        return False
