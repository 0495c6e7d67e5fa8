"""Register files (JSON, CSV) and topic records (Avro): round trips and row-level errors."""

import json
from pathlib import Path

import pytest

from addressregister.errors import RegisterFileError
from addressregister.fileformat import read_register_file, write_register_file
from addressregister.generator import generate_national_register
from addressregister.importer import plan_import
from addressregister.model import CommunicationParty
from addressregister.records import party_to_record
from addressregister.wire import (
    BadPartyRecordError,
    decode_party,
    encode_party,
    her_id_of_key,
    party_key,
)
from tests.addressregister import support as s


@pytest.fixture(scope="module")
def sample() -> list[CommunicationParty]:
    """Every kind of party of the national register, with all optional fields in use."""
    parties = generate_national_register(3)
    return parties[:300] + parties[-300:] + [p for p in s.small_parties() if p.her_id != s.RF]


@pytest.mark.parametrize("suffix", ["json", "csv"])
def test_files_round_trip(tmp_path: Path, sample: list[CommunicationParty], suffix: str) -> None:
    path = tmp_path / f"register.{suffix}"
    assert write_register_file(path, sample) == len(sample)
    assert list(read_register_file(path).parties) == sample


def test_csv_with_categories_can_be_read_back(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    write_register_file(path, s.small_index(), with_category=True)
    assert "category" in path.read_text().splitlines()[0]
    assert len(read_register_file(path).parties) == len(s.small_parties())


def write_records(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text(json.dumps({"format": "meldingshub-register", "parties": records}))


def test_one_bad_organisation_number_names_its_row_and_field(tmp_path: Path) -> None:
    records = [party_to_record(p) for p in s.small_parties()]
    records[14]["organisationNumber"] = "983044779"  # the pharmacy, row 15
    path = tmp_path / "register.json"
    write_records(path, records)
    with pytest.raises(RegisterFileError) as exc:
        read_register_file(path)
    [error] = exc.value.errors
    assert (error.row, error.field, error.her_id) == (15, "organisationNumber", s.PHARMACY)
    assert "row 15 (HER-id 600), organisationNumber" in str(exc.value)
    assert "nothing imported" in str(exc.value)


def test_every_wrong_row_and_field_is_listed(tmp_path: Path) -> None:
    records = [party_to_record(p) for p in s.small_parties()]
    records[0]["herId"] = "abc"
    records[1]["kind"] = "robot"
    records[2]["municipality"] = "12"
    records[2]["validFrom"] = "2024-13-01"
    records[3]["unexpected"] = 1
    records[4]["herId"] = records[5]["herId"]
    records.append("not an object")  # type: ignore[arg-type]
    path = tmp_path / "register.json"
    write_records(path, records)
    with pytest.raises(RegisterFileError) as exc:
        read_register_file(path)
    found = {(e.row, e.field) for e in exc.value.errors}
    assert found == {
        (1, "herId"),
        (2, "kind"),
        (3, "municipality"),
        (3, "validFrom"),
        (4, "unexpected"),
        (6, "herId"),  # the second occurrence of a HER-id
        (17, "record"),
    }


def test_csv_rows_are_numbered_from_the_first_data_line(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    write_register_file(path, s.small_parties())
    lines = path.read_text().splitlines()
    lines[3] = lines[3].replace("4601", "46x1")
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RegisterFileError) as exc:
        read_register_file(path)
    assert [(e.row, e.field) for e in exc.value.errors] == [(3, "municipality")]


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RegisterFileError, match="not valid JSON"):
        read_register_file(broken)
    with pytest.raises(RegisterFileError, match=r"\.json or \.csv"):
        read_register_file(tmp_path / "register.xml")
    headers = tmp_path / "bad.csv"
    headers.write_text("herId,colour\n1,blue\n")
    with pytest.raises(RegisterFileError, match="unknown columns: colour"):
        read_register_file(headers)


def test_import_plan_publishes_only_differences_and_checks_parents(tmp_path: Path) -> None:
    path = tmp_path / "register.json"
    parties = s.small_parties()
    write_register_file(path, parties)
    source = read_register_file(path)
    current = {p.her_id: p for p in parties[:-1]}  # RF is new
    current[999] = s.org(999, "115", "bandagist", None)  # gone from the file
    plan = plan_import(source, current)
    assert [p.her_id for p in plan.upserts] == [s.RF]
    assert plan.removals == (999,)
    assert plan.unchanged == len(parties) - 1
    kept = plan_import(source, current, remove_missing=False)
    assert kept.removals == ()

    orphan_file = tmp_path / "orphans.json"
    write_register_file(orphan_file, [s.unit(5, 4)])
    with pytest.raises(RegisterFileError) as exc:
        plan_import(read_register_file(orphan_file), {})
    assert [(e.row, e.field) for e in exc.value.errors] == [(1, "parentHerId")]
    # with --keep-missing the parent may already be in the register
    parent = {4: s.org(4, "102", "municipality", None)}
    assert plan_import(read_register_file(orphan_file), parent, remove_missing=False).upserts


def test_avro_records_round_trip(sample: list[CommunicationParty]) -> None:
    for party in sample:
        assert decode_party(encode_party(party)) == party


def test_keys_are_decimal_her_ids() -> None:
    assert party_key(8090688) == b"8090688"
    assert her_id_of_key(b"8090688") == 8090688
    for bad in (None, b"", b"2397.1", b"-5"):
        with pytest.raises(BadPartyRecordError):
            her_id_of_key(bad)


def test_unreadable_values_are_a_specific_error() -> None:
    value = encode_party(s.small_parties()[0])
    for bad in (b"", value[:-3], b"\x00" + value[1:], value + b"\x00"):
        with pytest.raises(BadPartyRecordError):
            decode_party(bad)
