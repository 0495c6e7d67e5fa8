"""The MSH API's HelseID seam: which HER-ids a HelseID caller may send for and read,
from its organisation number, the ``orgnr_child`` sub-unit and the HER-id claim."""

import dataclasses

from addressregister.index import RegisterIndex
from broker_adapters.http.msh.caller import helseid_caller
from tests.broker_adapters.http.support import (
    OTHER_ORG,
    RECEIVER_ORG,
    RECEIVER_SERVICE,
    SENDER_ORG,
    msh_register,
)


def test_helseid_caller_takes_the_organisation_and_its_sub_units_narrowed_by_the_claim() -> None:
    register = msh_register()
    numbers = {p.her_id: p.organisation_number for p in register}
    assert all(n is None for n in numbers.values())  # the test register has no numbers ...
    parties = [
        dataclasses.replace(p, organisation_number="974703475") if p.her_id == RECEIVER_ORG else p
        for p in register
    ]
    indexed = RegisterIndex(parties)
    caller = helseid_caller("helseid:974703475:c", "974703475", None, None, indexed)
    assert caller.read_her_ids == {RECEIVER_ORG, RECEIVER_SERVICE}
    claim = frozenset({RECEIVER_SERVICE})
    narrowed = helseid_caller("helseid:974703475:c", "974703475", None, claim, indexed)
    assert narrowed.send_her_ids == {RECEIVER_SERVICE}
    outside = frozenset({SENDER_ORG})
    assert helseid_caller("x", "974703475", None, outside, indexed).read_her_ids == frozenset()
    assert caller.principal().her_ids == caller.send_her_ids


def test_a_child_organisation_narrows_and_must_lie_within_the_parent() -> None:
    """orgnr_child names a sub-unit: only its HER-ids, and only inside the parent."""
    child = dataclasses.replace(
        next(p for p in msh_register() if p.her_id == RECEIVER_SERVICE),
        organisation_number="922734046",
    )
    stranger = dataclasses.replace(
        next(p for p in msh_register() if p.her_id == OTHER_ORG), organisation_number="811111112"
    )
    parties = [
        dataclasses.replace(p, organisation_number="974703475") if p.her_id == RECEIVER_ORG else p
        for p in msh_register()
        if p.her_id not in (RECEIVER_SERVICE, OTHER_ORG)
    ]
    indexed = RegisterIndex([*parties, child, stranger])
    sub_unit = helseid_caller("n", "974703475", "922734046", None, indexed)
    assert sub_unit.read_her_ids == {RECEIVER_SERVICE}
    elsewhere = helseid_caller("n", "974703475", "811111112", None, indexed)
    assert elsewhere.read_her_ids == frozenset()
