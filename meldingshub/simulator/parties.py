"""Which parties of the register may send or receive a message: the simulator's address book.

Candidates come from the register itself and are checked with the hub's own
resolution rules (:func:`addressregister.resolution.check_sender` and
:func:`resolve_receiver`), so a message the simulator means to be routed is
routed: the sender exists, is active and may send the type, and the receiver,
at the level it is addressed, accepts the type and version and has an endpoint.
"""

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from addressregister.categories import CategoryTable
from addressregister.fileformat import read_register_file
from addressregister.generator import generate_national_register
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, PartyKind
from addressregister.resolution import Resolution, SenderCheck, check_sender, resolve_receiver
from addressregister.settings import RegisterSettings
from meldingshub.simulator.documents import NamedParty
from schemas.vocabulary import AddressingMode, Category

NATIONAL_REGISTER_SEED = 2019
"""The seed of the embedded default's synthetic national register (``meldingshub.wiring``)."""
REGISTER_FILE = "national-register.json"
"""The embedded default's register file, in the hub's data directory."""

_LEVEL_OF_KIND = {
    PartyKind.ORGANISATION: AddressingMode.ORGANISATION,
    PartyKind.SERVICE: AddressingMode.SERVICE,
    PartyKind.DEPARTMENT: AddressingMode.SERVICE,
    PartyKind.PERSON: AddressingMode.PERSON,
}


class AddressBook:
    """Senders and receivers per category, message type, version and level; cached."""

    def __init__(self, index: RegisterIndex, at: datetime) -> None:
        self.index = index
        self.at = at
        """When the hub will check the parties (its processing time, not the message's)."""
        self._named: dict[Category, dict[AddressingMode, list[NamedParty]]] = {}
        self._senders: dict[tuple[Category, str, str, AddressingMode], list[NamedParty]] = {}
        self._receivers: dict[tuple[Category, str, str, AddressingMode], list[NamedParty]] = {}

    def named(self, party: CommunicationParty) -> NamedParty | None:
        """``party`` as a document names it (under its top-level organisation)."""
        level = _LEVEL_OF_KIND[party.kind]
        if level is AddressingMode.ORGANISATION:
            return NamedParty(party)
        root_id = self.index.organisation_of(party.her_id)
        root = self.index.get(root_id) if root_id is not None else None
        if root is None or root.her_id == party.her_id:
            return None
        if level is AddressingMode.PERSON:
            return NamedParty(root, person=party)
        return NamedParty(root, unit=party)

    def _by_level(self, category: Category) -> dict[AddressingMode, list[NamedParty]]:
        found = self._named.get(category)
        if found is None:
            found = {mode: [] for mode in _LEVEL_OF_KIND.values()}
            for party in self.index.in_category(category):
                named = self.named(party)
                if named is not None:
                    found[named.mode].append(named)
            self._named[category] = found
        return found

    def senders(
        self, category: Category, message_type: str, version: str, level: AddressingMode
    ) -> Sequence[NamedParty]:
        """Parties of ``category`` named at ``level`` that may send ``message_type``."""
        key = (category, message_type, version, level)
        found = self._senders.get(key)
        if found is None:
            found = [
                named
                for named in self._by_level(category)[level]
                if self.may_send(named, message_type, version)
            ]
            self._senders[key] = found
        return found

    def receivers(
        self, category: Category, message_type: str, version: str, mode: AddressingMode
    ) -> Sequence[NamedParty]:
        """Parties of ``category`` addressed at ``mode`` that accept ``message_type``."""
        key = (category, message_type, version, mode)
        found = self._receivers.get(key)
        if found is None:
            found = [
                named
                for named in self._by_level(category)[mode]
                if self.accepts(named, message_type, version)
            ]
            self._receivers[key] = found
        return found

    def may_send(self, named: NamedParty, message_type: str, version: str) -> bool:
        """The hub's sender check passes for ``named``."""
        check = check_sender(self.index, named.ref, message_type, version or None, self.at)
        return isinstance(check, SenderCheck)

    def accepts(self, named: NamedParty, message_type: str, version: str) -> bool:
        """The hub resolves ``named`` as a receiver of ``message_type`` in ``version``."""
        resolution = resolve_receiver(self.index, named.ref, message_type, version or None, self.at)
        return isinstance(resolution, Resolution)

    def category(self, her_id: int) -> Category:
        """The statistics category of ``her_id`` (``ukjent`` when not in the register)."""
        return self.index.category(her_id)


def register_index(path: Path | None, settings: RegisterSettings) -> RegisterIndex:
    """The register the hub routes with: ``path``, or the synthetic national register.

    Categories come from the same configuration as the hub's, so the simulator's
    expectations use the hub's categories.
    """
    categories = CategoryTable.configured(settings.category_rules, settings.categories_file)
    if path is not None:
        parties: Sequence[CommunicationParty] = read_register_file(path).parties
    else:
        parties = generate_national_register(NATIONAL_REGISTER_SEED)
    return RegisterIndex(parties, categories)
