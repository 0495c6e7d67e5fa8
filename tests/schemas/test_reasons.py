"""Rejection reasons are built from what the hub owns: a value with quotes cannot leak through."""

import pytest

from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from tests.schemas.test_reader import DIALOG, replace, sample

MARKER = "Q7marker"
QUOTED = f"O'Brien \"{MARKER}\" har 'diabetes"


@pytest.fixture(scope="module")
def reader() -> MessageReader:
    return MessageReader(SchemaSettings())


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            b"<GenDate>2018-01-19T09:40:47",
            f"<GenDate>{QUOTED}".encode(),
            "/MsgHead/MsgInfo/GenDate: type (expected xs:dateTime)",
        ),
        (
            b'<IssueDate V="2018-01-19T09:30:47"/>',
            f"<IssueDate V='{QUOTED.replace(chr(39), '&apos;')}'/>".encode(),
            "/IssueDate/@V: type",
        ),
        (
            b"<MIGversion>v1.2 2006-05-24</MIGversion>",
            f"<Extra>{QUOTED}</Extra>".encode(),
            "/MsgHead/MsgInfo/Extra: unexpected (expected MIGversion)",
        ),
        (b"<GenDate>", f"<GenDate>{QUOTED}</Bad><GenDate>".encode(), "not well-formed at line"),
        (
            b'<Type V="DIALOG_STATUS_HENVISNING"',
            f"<Type V='{MARKER}&apos;'".encode(),
            "the type code is not a",
        ),
        (b"xmlstds/dialog/2013-01-23", f"{MARKER}/x".encode(), "not in the catalogue"),
    ],
)
def test_a_rejected_value_never_reaches_the_reason(
    reader: MessageReader, old: bytes, new: bytes, expected: str
) -> None:
    result = reader.read(replace(old, new)(sample(DIALOG)))
    assert result.problem is not None
    assert expected in result.problem.reason, result.problem.reason
    for leak in (MARKER, "Brien", "diabetes"):
        assert leak not in result.problem.reason, result.problem.reason
