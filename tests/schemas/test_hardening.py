"""Hostile inputs are refused quickly, with the documented code, and without using much memory.

Each attack runs in a fresh interpreter so its peak memory (max RSS) can be
measured on its own: the delta from just before ``read`` to just after.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from schemas.errors import MessageRejectedError
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
from schemas.vocabulary import AppRecErrorCode
from schemas.xmlparse import ParseLimits, declared_encoding, parse_message
from tests.schemas.test_reader import DIALOG, sample
from tests.support.shared import REPO

MAX_SECONDS = 0.100
MAX_MEMORY_MB = 200

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + ']>\n<MsgHead xmlns="http://www.kith.no/xmlstds/msghead/2006-05-24">&lol9;</MsgHead>'
)

# Each builds its input, then reads it; the child prints code, seconds and RSS delta.
ATTACKS = {
    "doctype-entities": f"raw = {BILLION_LAUGHS.encode()!r}",
    "body-40mb": (
        "raw = b'<?xml version=\"1.0\" encoding=\"UTF-8\"?><MsgHead>' + b'A' * (40 * 1024 * 1024)"
        " + b'</MsgHead>'"
    ),
    "nesting-10000": "raw = b'<a>' * 10_000 + b'</a>' * 10_000",
    "undeclared-latin1": (
        "raw = '<MsgHead><Note>Pasienten er på sykehjemmet, søknad om plass</Note></MsgHead>'"
        ".encode('iso-8859-1')"
    ),
}
EXPECTED = {
    "doctype-entities": AppRecErrorCode.T99,
    "body-40mb": AppRecErrorCode.T99,
    "nesting-10000": AppRecErrorCode.T99,
    "undeclared-latin1": AppRecErrorCode.T01,
}

CHILD = """
import json, resource, time
from schemas.reader import MessageReader
from schemas.settings import SchemaSettings
reader = MessageReader(SchemaSettings())
{build}
reader.read(b'<warm-up/>')
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
result = reader.read(raw)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"code": result.problem.code.value if result.problem else None,
                  "reason": result.problem.reason if result.problem else None,
                  "seconds": seconds, "rss_delta_mb": (after - before) / 1024}}))
"""


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_rejected_fast_and_small(attack: str) -> None:
    program = textwrap.dedent(CHILD.format(build=ATTACKS[attack]))
    completed = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome = json.loads(completed.stdout.strip().splitlines()[-1])
    assert outcome["code"] == EXPECTED[attack].value, outcome
    assert outcome["seconds"] < MAX_SECONDS, outcome
    assert outcome["rss_delta_mb"] < MAX_MEMORY_MB, outcome


def _reject(raw: bytes, limits: ParseLimits | None = None) -> MessageRejectedError:
    with pytest.raises(MessageRejectedError) as caught:
        parse_message(raw, limits or ParseLimits())
    return caught.value


def test_doctype_is_refused_even_after_comments_and_processing_instructions() -> None:
    raw = b'<?xml version="1.0"?><!-- c --><?pi x?>\n<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>'
    rejected = _reject(raw)
    assert rejected.code is AppRecErrorCode.T99
    assert "DOCTYPE" in rejected.reason


def test_external_entity_never_reads_files() -> None:
    raw = b'<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]><a>&x;</a>'
    assert _reject(raw).code is AppRecErrorCode.T99


def test_declared_latin1_and_undeclared_utf8_both_parse() -> None:
    latin1 = '<?xml version="1.0" encoding="ISO-8859-1"?><a>søknad</a>'.encode("iso-8859-1")
    utf8 = "<a>søknad</a>".encode()
    assert parse_message(latin1, ParseLimits()).text == "søknad"
    assert parse_message(utf8, ParseLimits()).text == "søknad"
    assert declared_encoding(latin1) == "iso-8859-1"
    assert declared_encoding(utf8) is None


def test_unsupported_encoding_is_t01() -> None:
    raw = b'<?xml version="1.0" encoding="UTF-16"?><a/>'
    assert _reject(raw).code is AppRecErrorCode.T01


def test_bytes_wrong_for_declared_encoding_are_t01_without_the_bytes() -> None:
    raw = b'<?xml version="1.0" encoding="UTF-8"?><a>\xe6\xf8\xe5</a>'
    rejected = _reject(raw)
    assert rejected.code is AppRecErrorCode.T01
    assert "0xE6" not in rejected.reason


def test_configured_depth_and_attribute_limits() -> None:
    limits = ParseLimits(max_depth=10, max_attributes=3)
    assert _reject(b"<a>" * 11 + b"</a>" * 11, limits).code is AppRecErrorCode.T99
    parse_message(b"<a>" * 10 + b"</a>" * 10, limits)
    assert _reject(b'<a p="1" q="2" r="3" s="4"/>', limits).code is AppRecErrorCode.T99
    parse_message(b'<a p="1" q="2" r="3"/>', limits)


def test_truncated_and_empty_messages_are_t01() -> None:
    assert _reject(b"<MsgHead><MsgInfo>").code is AppRecErrorCode.T01
    assert _reject(b"  \n").code is AppRecErrorCode.T01


def test_size_limit_comes_from_the_settings() -> None:
    reader = MessageReader(SchemaSettings(max_message_bytes=2048))
    result = reader.read(b"<a>" + b"x" * 4096 + b"</a>")
    assert result.problem is not None
    assert result.problem.code is AppRecErrorCode.T99
    assert "2048" in result.problem.reason


def test_attachment_text_over_ten_megabytes_is_read(builtin_reader: MessageReader) -> None:
    """libxml2 caps one text node at 10 MB unless told otherwise; real attachments reach 35 MB."""
    payload = b"QUJD" * (3 * 1024 * 1024)  # 12 MiB of base64 in one text node
    attachment = (
        b'<Document><RefDoc><MsgType V="A"/><MimeType>application/pdf</MimeType><Content>'
        b'<Base64Container xmlns="http://www.kith.no/xmlstds/base64container">'
        + payload
        + b"</Base64Container></Content></RefDoc></Document></MsgHead>"
    )
    raw = sample(DIALOG).replace(b"</MsgHead>", attachment)
    result = builtin_reader.read(raw)
    assert result.accepted, result.problem
    assert result.envelope is not None
    assert result.envelope.attachment_sizes == (len(payload) * 3 // 4,)
