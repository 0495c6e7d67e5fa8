"""The index: categories from the table (and configuration), inheritance, search, snapshots."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from addressregister.categories import CategoryRule, CategoryTable, CategoryTableError
from addressregister.index import RegisterIndex
from addressregister.model import CommunicationParty, PartyKind
from addressregister.settings import RegisterSettings
from schemas.vocabulary import Category
from tests.addressregister import support as s


def test_business_types_map_to_the_monitor_categories() -> None:
    index = s.small_index()
    assert index.category(s.HOSPITAL) is Category.HELSEFORETAK
    assert index.category(s.KOMMUNE) is Category.KOMMUNE
    assert index.category(s.PRACTICE) is Category.FASTLEGE
    assert index.category(s.PHARMACY) is Category.APOTEK
    assert index.category(404_404) is Category.UKJENT


def test_children_without_a_match_inherit_their_parents_category() -> None:
    index = s.small_index()
    assert index.category(s.GP) is Category.FASTLEGE
    assert index.category(s.HOSPITAL_DEPT) is Category.HELSEFORETAK
    gp = index.get(s.GP)
    assert gp is not None and gp.category is Category.FASTLEGE


def test_national_bodies_come_from_her_id_rules_and_unmatched_state_bodies_are_annet() -> None:
    index = s.small_index()
    assert index.category(s.RF) is Category.RESEPTFORMIDLEREN
    statlig = s.org(70001, "113", "nav", None)
    interkommunal = s.org(70002, "114", "municipality", None)
    index = RegisterIndex([statlig, interkommunal])
    assert index.category(70001) is Category.ANNET
    assert index.category(70002) is Category.KOMMUNE


def test_configured_rules_take_precedence_over_the_table() -> None:
    table = CategoryTable.configured(
        [
            CategoryRule(category=Category.NAV, organisation_number="889640782"),
            CategoryRule(category=Category.LABORATORIUM, her_id=s.HOSPITAL_DEPT),
            CategoryRule(category=Category.ANNET, business_type="103"),
        ]
    )
    nav = s.org(70001, "113", "nav", None, organisation_number="889640782")
    nav_office = s.unit(70002, 70001)
    index = RegisterIndex([*s.small_parties(), nav, nav_office], table)
    assert index.category(70001) is Category.NAV
    assert index.category(70002) is Category.NAV
    assert index.category(s.HOSPITAL_DEPT) is Category.LABORATORIUM
    assert index.category(s.PRACTICE) is Category.ANNET
    assert index.category(s.RF) is Category.RESEPTFORMIDLEREN  # the table still applies


def test_service_code_rules_are_more_specific_than_business_type() -> None:
    table = CategoryTable.configured(
        [
            CategoryRule(
                category=Category.LABORATORIUM,
                business_type="101",
                service_code_list="8668",
                service_code="10",
            )
        ]
    )
    lab = replace(
        s.unit(101, s.HOSPITAL, PartyKind.DEPARTMENT),
        business_type="101",
        service_code="10",
        service_code_list="8668",
    )
    ward = replace(lab, her_id=102, service_code="1")
    index = RegisterIndex([s.small_parties()[0], lab, ward], table)
    assert index.category(101) is Category.LABORATORIUM
    assert index.category(102) is Category.HELSEFORETAK


def test_a_categories_file_replaces_the_table(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps({"rules": [{"businessType": "108", "category": "annet"}]}))
    settings = RegisterSettings(categories_file=path)
    table = CategoryTable.configured(settings.category_rules, settings.categories_file)
    index = RegisterIndex(s.small_parties(), table)
    assert index.category(s.PHARMACY) is Category.ANNET
    assert index.category(s.HOSPITAL) is Category.ANNET  # no 101 rule in that file
    assert index.category(s.RF) is Category.ANNET


def test_bad_category_tables_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "categories.json"
    path.write_text(json.dumps({"rules": [{"category": "kommune"}, {"category": "nope"}]}))
    with pytest.raises(CategoryTableError, match=r"rule 1.*rule 2"):
        CategoryTable.from_file(path)


def test_rules_from_environment_style_settings() -> None:
    settings = RegisterSettings.model_validate(
        {"category_rules": [{"herId": 424242, "category": "kreftregisteret"}]}
    )
    table = CategoryTable.configured(settings.category_rules)
    index = RegisterIndex([s.org(424242, "113", "kreftregisteret", None)], table)
    assert index.category(424242) is Category.KREFTREGISTERET


def test_snapshots_are_immutable_and_changes_make_new_ones() -> None:
    before = s.small_index()
    practice = before.get(s.PRACTICE)
    assert practice is not None
    after = before.with_changes([replace(practice, active=False)], removals=[s.PHARMACY])
    assert before.get(s.PHARMACY) is not None and s.PHARMACY not in after
    assert practice.active and not after.get(s.PRACTICE).active  # type: ignore[union-attr]
    assert len(after) == len(before) - 1


def test_orphans_and_cycles_do_not_break_the_index() -> None:
    orphan = s.unit(900, 899)
    a = replace(s.unit(901, 902), kind=PartyKind.DEPARTMENT)
    b = replace(s.unit(902, 901), kind=PartyKind.DEPARTMENT)
    index = RegisterIndex([orphan, a, b])
    assert len(index) == 3
    assert set(index.orphans) >= {900}
    assert index.organisation_of(900) == 900
    assert index.category(900) is Category.ANNET


def test_search_filters_pages_and_orders_by_her_id() -> None:
    index = s.small_index()
    page = index.search(kind=PartyKind.PERSON, limit=2)
    assert page.total == 5
    assert [p.her_id for p in page.items] == [s.GP, s.GP_INACTIVE]
    second = index.search(kind=PartyKind.PERSON, offset=2, limit=2)
    assert [p.her_id for p in second.items] == [s.GP_RETIRED, s.GP_FUTURE]
    assert [p.her_id for p in index.search(organisation_number="915933149").items] == [s.RF]
    assert [p.her_id for p in index.search(name="ORGANISATION 60").items] == [s.PHARMACY]
    assert index.search(business_type="103", category=Category.FASTLEGE).total == 2
    assert index.search(municipality="4601", active=False).total == 1  # the closed practice
    assert index.search(name="nothing like this").total == 0


def test_counts_and_look_ups() -> None:
    index = s.small_index()
    counts = index.counts_by_category()
    assert set(counts) == set(Category)
    assert sum(counts.values()) == len(index) == len(list(index))
    assert [p.her_id for p in index.children(s.KOMMUNE)] == [s.HOME_CARE, s.CLOSED_SERVICE]
    receiver = index.receiving_party(s.GP)
    assert receiver is not None and receiver.her_id == s.PRACTICE
    assert index.receiving_party(s.NO_ENDPOINT_SERVICE) is None
    assert index.counts_by_kind()[PartyKind.PERSON] == 5


def test_category_in_input_is_ignored() -> None:
    party = replace(s.small_parties()[0], category=Category.NAV)
    assert RegisterIndex([party]).category(party.her_id) is Category.HELSEFORETAK
    assert isinstance(party, CommunicationParty)
