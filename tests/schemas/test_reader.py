"""The reader's verdicts: mutations of valid samples get the right AppRec code in both modes."""

from collections.abc import Callable

import pytest

from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode, Family
from tests.support.shared import CORPUS, OFFICIAL_XSD

DIALOG = "dialog/Status_paa_henvisning-InnkaltEtterViderehenvisning.xml"
HENVISNING = "basis/henvisning_v1.1_n.xml"
APPREC = "apprec/example-ok.xml"
FNR = "13116900216"  # the fictitious patient of the dialog sample


def sample(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus sample {name} not found")
    return path.read_bytes()


def replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def mutate(raw: bytes) -> bytes:
        assert old in raw, f"mutation target {old!r} not in sample"
        return raw.replace(old, new, 1)

    return mutate


MUTATIONS: list[tuple[str, str, Callable[[bytes], bytes], AppRecErrorCode]] = [
    (
        "required MIGversion removed",
        DIALOG,
        replace(b"<MIGversion>v1.2 2006-05-24</MIGversion>", b""),
        AppRecErrorCode.T02,
    ),
    (
        "required TemaKodet removed from payload",
        DIALOG,
        replace(b'<TemaKodet V="1"', b'<Tema V="1"'),
        AppRecErrorCode.T02,
    ),
    (
        "unknown payload namespace",
        DIALOG,
        replace(b"xmlstds/dialog/2013-01-23", b"xmlstds/dialog/2099-01-01"),
        AppRecErrorCode.T10,
    ),
    (
        "wrong MsgHead namespace",
        DIALOG,
        replace(b'msghead/2006-05-24"', b'msghead/1999-01-01"'),
        AppRecErrorCode.T10,
    ),
    (
        "type of another standard",
        DIALOG,
        replace(b"DIALOG_STATUS_HENVISNING", b"ERM1"),
        AppRecErrorCode.T02,
    ),
    (
        "bad GenDate",
        DIALOG,
        replace(b"<GenDate>2018-01-19T09:40:47", b"<GenDate>2018-13-45T09:40:47"),
        AppRecErrorCode.T02,
    ),
    (
        "MsgId not a UUID",
        DIALOG,
        replace(b"<MsgId>797700e0-2d17-11e8-b566-0800200c9a66", b"<MsgId>MSG-42"),
        AppRecErrorCode.E10,
    ),
    ("truncated", DIALOG, lambda raw: raw[: len(raw) // 2], AppRecErrorCode.T01),
    (
        "DOCTYPE with an entity",
        DIALOG,
        replace(b"<MsgHead", b'<!DOCTYPE MsgHead [<!ENTITY x "y">]><MsgHead'),
        AppRecErrorCode.T99,
    ),
    (
        "basis MsgId removed",
        HENVISNING,
        replace(b"<MsgId>02a51109-7416-4822-9742-bcd6fdfd036f</MsgId>", b""),
        AppRecErrorCode.T02,
    ),
    (
        "basis bad GenDate",
        HENVISNING,
        replace(b'<GenDate V="2017-05-05T06:24:09"', b'<GenDate V="yesterday"'),
        AppRecErrorCode.T02,
    ),
    (
        "basis type of another standard",
        HENVISNING,
        replace(b'<Type V="HENVISNING"', b'<Type V="SVAR_LAB"'),
        AppRecErrorCode.T02,
    ),
    (
        "AppRec Id not a UUID",
        APPREC,
        replace(b"<Id>5e4f20c0-c41b-11e0-962b-0800200c9a66</Id>", b"<Id>1</Id>"),
        AppRecErrorCode.E10,
    ),
    (
        "AppRec OriginalMsgId removed",
        APPREC,
        lambda raw: raw[: raw.index(b"<OriginalMsgId>")] + b"</AppRec>",
        AppRecErrorCode.T02,
    ),
]


@pytest.fixture(params=["built-in", "official"])
def reader(
    request: pytest.FixtureRequest, builtin_reader: MessageReader, official_reader: MessageReader
) -> MessageReader:
    return builtin_reader if request.param == "built-in" else official_reader


def test_unmutated_samples_are_accepted(reader: MessageReader) -> None:
    for name in (DIALOG, HENVISNING, APPREC):
        result = reader.read(sample(name))
        assert result.accepted, (name, result.problem)


@pytest.mark.parametrize(
    ("label", "name", "mutate", "code"), MUTATIONS, ids=[mutation[0] for mutation in MUTATIONS]
)
def test_mutation_is_rejected_with_its_code(
    reader: MessageReader,
    label: str,
    name: str,
    mutate: Callable[[bytes], bytes],
    code: AppRecErrorCode,
) -> None:
    result = reader.read(mutate(sample(name)))
    assert result.problem is not None, label
    assert result.problem.code is code, (label, result.problem)
    assert result.problem.reason


def test_rejected_message_still_yields_the_envelope_for_a_negative_apprec(
    reader: MessageReader,
) -> None:
    raw = replace(b"<GenDate>2018-01-19T09:40:47", b"<GenDate>not-a-date")(sample(DIALOG))
    result = reader.read(raw)
    assert not result.accepted
    assert result.envelope is not None
    assert result.envelope.msg_id == "797700e0-2d17-11e8-b566-0800200c9a66"
    assert result.envelope.sender.organisation_her_id == 59
    assert result.envelope.message_type == "DIALOG_STATUS_HENVISNING"
    assert result.envelope.apprec_version == "1.1"


def test_reasons_never_carry_element_text(reader: MessageReader) -> None:
    mutations = [
        replace(b"<GenDate>2018-01-19T09:40:47", f"<GenDate>{FNR}".encode()),
        replace(b"<MsgId>797700e0-2d17-11e8-b566-0800200c9a66", f"<MsgId>{FNR}".encode()),
        replace(b'S="2.16.578.1.12.4.1.1.9148"', f'S="{FNR}x"'.encode()),
        replace(b"<DateOfBirth>1969-11-13", f"<DateOfBirth>{FNR}".encode()),
    ]
    for mutate in mutations:
        result = reader.read(mutate(sample(DIALOG)))
        assert result.problem is not None
        assert FNR not in result.problem.reason, result.problem.reason
        assert "Danser" not in result.problem.reason


def test_unknown_payload_policy_envelope_only_accepts_a_valid_msghead() -> None:
    raw = replace(b"xmlstds/dialog/2013-01-23", b"xmlstds/unknown/2030-01-01")(sample(DIALOG))
    strict = MessageReader(SchemaSettings(unknown_type_policy="reject")).read(raw)
    lenient = MessageReader(SchemaSettings(unknown_type_policy="envelope_only")).read(raw)
    assert strict.problem is not None
    assert strict.problem.code is AppRecErrorCode.T10
    assert "not in the catalogue" in strict.problem.reason
    assert "xmlstds/unknown/2030-01-01" not in strict.problem.reason
    assert lenient.accepted, lenient.problem
    assert lenient.envelope is not None
    assert lenient.envelope.family is Family.OTHER
    assert lenient.envelope.unknown_reason


def test_envelope_only_policy_still_checks_the_msghead() -> None:
    raw = replace(b"xmlstds/dialog/2013-01-23", b"xmlstds/unknown/2030-01-01")(sample(DIALOG))
    raw = replace(b"<MsgId>797700e0-2d17-11e8-b566-0800200c9a66", b"<MsgId>7")(raw)
    result = MessageReader(SchemaSettings(unknown_type_policy="envelope_only")).read(raw)
    assert result.problem is not None
    assert result.problem.code is AppRecErrorCode.E10


def test_message_needing_an_uncompilable_official_schema_gets_t99(
    official_reader: MessageReader,
) -> None:
    raw = sample("eresept/M1_Resept.xml").replace(b"m1/2013-10-08", b"m1/2008-10-09")
    result = official_reader.read(raw)
    assert result.problem is not None
    assert result.problem.code is AppRecErrorCode.T99
    assert "eresept/m1/2008-10-09" in result.problem.reason


def test_message_whose_version_the_official_folder_lacks_gets_t10(
    official_reader: MessageReader,
) -> None:
    raw = sample("eresept/M1_Resept.xml").replace(b"m1/2013-10-08", b"m1/2030-01-01")
    result = official_reader.read(raw)
    assert result.problem is not None
    assert result.problem.code is AppRecErrorCode.T10
    assert str(OFFICIAL_XSD) in result.problem.reason or "no schema" in result.problem.reason


def test_patient_identifiers_only_on_request(builtin_reader: MessageReader) -> None:
    raw = sample(DIALOG)
    result = builtin_reader.read(raw)
    assert FNR not in repr(result)
    assert "Danser" not in repr(result)
    assert builtin_reader.patient_identifiers(raw) == (("FNR", FNR),)
    basis = sample(HENVISNING)
    assert builtin_reader.patient_identifiers(basis) == (("FNR", FNR),)
