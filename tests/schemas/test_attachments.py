"""The base64 check the reader does instead of libxml2 agrees with libxml2, input by input."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from schemas.attachments import (
    Base64Text,
    accepted,
    accepted_by_libxml2,
    declares_plain_base64,
    measure,
    set_aside,
)
from schemas.catalogue import default_catalogue
from schemas.catalogue_data import BASE64_NAMESPACE
from schemas.official import BUILTIN_DIR, BuiltinLibrary, OfficialLibrary
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from tests.schemas.test_reader import DIALOG, sample
from tests.support.shared import OFFICIAL_XSD

SCHEMA = etree.XMLSchema(etree.parse(str(BUILTIN_DIR / "base64container.xsd")))
PIECES = st.sampled_from(
    ["A", "Q", "g", "w", "+", "/", "0", "9", "=", "==", " ", "\n", "\t", "&#13;", "!", "-", "æ"]
)
TEXTS = st.lists(PIECES, max_size=40).map("".join) | st.builds(
    lambda lines, end: "\n".join(lines) + end,
    st.lists(st.sampled_from(["QUJD", "REVG", "R0hJ", "Sks", "TA==", "TQ="]), max_size=8),
    st.sampled_from(["", "=", "==", "\n", "\n\t\t", " =", "=A"]),
)


def container(text: str, attributes: str = "") -> etree._Element:
    return etree.fromstring(
        f'<Base64Container xmlns="{BASE64_NAMESPACE}"{attributes}>{text}</Base64Container>'
    )


@settings(max_examples=3000, deadline=None)
@given(TEXTS)
def test_the_check_gives_libxml2s_verdict(text: str) -> None:
    element = container(text)
    verdict = SCHEMA.validate(element)
    assert accepted_by_libxml2((element.text or "").encode()) is verdict
    _, plain = measure(element)
    if plain is not None:  # ASCII text: the counting path
        assert accepted(plain) is verdict


@settings(max_examples=500, deadline=None)
@given(TEXTS)
def test_the_measured_size_is_the_encoded_length_without_whitespace_and_padding(
    text: str,
) -> None:
    element = container(text)
    value = element.text or ""
    encoded = len(value) - sum(value.count(blank) for blank in " \t\r\n")
    padding = value.rstrip().endswith("==") + value.rstrip().endswith("=")
    assert measure(element)[0] == max(encoded * 3 // 4 - padding, 0)


def test_only_text_and_schema_hints_make_an_attachment_the_reader_may_check() -> None:
    hint = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="a b"'
    assert measure(container("QUJD", hint))[1] is not None
    assert measure(container("QUJD", ' x="1"'))[1] is None
    assert measure(container("QU<!-- -->JD"))[1] is None
    assert measure(container("QUJDæ"))[1] is None
    other = etree.fromstring('<Base64Container xmlns="urn:other">QUJD</Base64Container>')
    assert measure(other) == (3, None)


def test_set_aside_puts_every_attachment_back_where_it_was() -> None:
    root = etree.fromstring(
        f'<r><a/><Base64Container xmlns="{BASE64_NAMESPACE}">QUJD</Base64Container>tail<b/></r>'
    )
    before = etree.tostring(root)
    attachment = root[1]
    text = Base64Text(attachment, b"QUJD", 0)
    with set_aside([text]):
        assert root[1] is not attachment
        assert root[1].text is None and root[1].tail == "tail"
    assert root[1] is attachment
    assert etree.tostring(root) == before


def schema_document(library: BuiltinLibrary | OfficialLibrary) -> etree._Element:
    document = library.document(BASE64_NAMESPACE)
    assert document is not None
    return etree.fromstring(document)


def test_our_schema_and_kiths_declare_plain_base64() -> None:
    assert declares_plain_base64(schema_document(BuiltinLibrary(default_catalogue())))
    if not OFFICIAL_XSD.is_dir():
        pytest.skip("no official schema folder in ../shared/xsd")
    assert declares_plain_base64(schema_document(OfficialLibrary(OFFICIAL_XSD)))


@pytest.mark.parametrize(
    "change",
    [
        ('base="xs:base64Binary"/>', 'base="xs:string"/>'),
        ("<xs:extension", '<xs:extension><xs:attribute name="a"/></xs:extension><xs:x'),
        ('name="Base64Container"', 'name="Base64Container" nillable="true"'),
        ("</xs:schema>", '<xs:element name="Other"/></xs:schema>'),
    ],
)
def test_any_other_declaration_leaves_attachments_to_libxml2(change: tuple[str, str]) -> None:
    source = (BUILTIN_DIR / "base64container.xsd").read_text()
    assert change[0] in source
    assert not declares_plain_base64(etree.fromstring(source.replace(*change).encode()))


def test_a_broken_attachment_gets_libxml2s_wording_through_the_reader() -> None:
    good = "aGVsbG8gd29ybGQ=\n"
    attachment = (
        b'<Document><RefDoc><MsgType V="A"/><Content>'
        b'<Base64Container xmlns="http://www.kith.no/xmlstds/base64container">%s'
        b"</Base64Container></Content></RefDoc></Document></MsgHead>"
    )
    reader = MessageReader(SchemaSettings())
    for text, verdict in ((good, None), ("aGVsbG8gd29ybGQ\n", "T02"), ("aGVsbG8=d29y", "T02")):
        raw = sample(DIALOG).replace(b"</MsgHead>", attachment % text.encode(), 1)
        result = reader.read(raw)
        assert (result.problem.code.value if result.problem else None) == verdict
        if verdict:
            assert result.problem is not None
            assert "Base64Container: type" in result.problem.reason
