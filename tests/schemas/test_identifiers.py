"""One strict HER-id parser: Unicode digits, spaces and signs are no HER-id anywhere."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from addressregister.api import create_app
from addressregister.errors import PartyValidationError
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from addressregister.records import party_from_record
from addressregister.wire import BadPartyRecordError, her_id_of_key
from schemas.catalogue import default_catalogue
from schemas.envelope import read_envelope
from schemas.identifiers import parse_her_id
from schemas.xmlparse import ParseLimits, parse_message
from tests.support.shared import CORPUS

ODD = [
    "²",
    "8094166²",
    "١٢٣",
    "１２３",
    "12_3",
    "+123",
    "-1",
    "1 2",
    "\u00a0123",
    "123\u2003",
    "0",
    "1234567890",
    "",
    "12.0",
    "1e3",
]


@pytest.mark.parametrize("text", ODD)
def test_text_that_is_not_a_her_id_is_refused_not_raised(text: str) -> None:
    assert parse_her_id(text) is None
    assert parse_her_id(text.encode("utf-8")) is None


def test_her_ids_in_every_accepted_shape() -> None:
    assert parse_her_id("8094166") == 8094166
    assert parse_her_id(" 8094166\n") == 8094166
    assert parse_her_id(b"999999999") == 999_999_999
    assert parse_her_id(8094166) == 8094166
    assert parse_her_id(True) is None
    assert parse_her_id(0) is None
    assert parse_her_id(None) is None


def superscript_receiver(raw: bytes) -> bytes:
    """``raw`` with every Id of the receiver ending in a superscript two (isdigit() is true)."""
    start, end = raw.index(b"<Receiver>"), raw.index(b"</Receiver>")
    receiver = raw[start:end].replace(b"</Id>", "\u00b2</Id>".encode())
    return raw[:start] + receiver + raw[end:]


def test_an_envelope_with_a_superscript_receiver_reads_without_raising() -> None:
    raw = (CORPUS / "dialog" / "Helsefaglig_dialog.xml").read_bytes()
    catalogue = default_catalogue()
    plain = read_envelope(parse_message(raw, ParseLimits()), catalogue).envelope
    assert plain.receiver.organisation_her_id == 59
    tampered = superscript_receiver(raw)
    envelope = read_envelope(parse_message(tampered, ParseLimits()), catalogue).envelope
    assert envelope.receiver.organisation_her_id is None
    assert envelope.receiver.service_her_id is None
    assert envelope.sender == plain.sender


def test_register_files_and_keys_take_only_ascii_digits() -> None:
    with pytest.raises(BadPartyRecordError):
        her_id_of_key("١٢٣".encode())
    assert her_id_of_key(b"8094166") == 8094166
    with pytest.raises(PartyValidationError) as caught:
        party_from_record({"herId": "8094166²", "kind": "organisation", "name": "x"})
    assert any(error.field == "herId" for error in caught.value.errors)


@pytest.mark.parametrize("value", ["１２３", "12_3", "+123", "\u00a0123"])
def test_query_parameters_take_only_ascii_digits(value: str) -> None:
    app: FastAPI = create_app(StaticRegister(RegisterIndex.empty()))
    transport = httpx.ASGITransport(app=app)

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(f"/v1/parties/{value}")

    async def resolve() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(
                "/v1/resolve", params={"messageType": "DIALOG", "organisationHerId": value}
            )

    response = asyncio.run(get())
    assert response.status_code == 400, response.text
    assert "HER-id" in response.json()["detail"]
    response = asyncio.run(resolve())
    assert response.status_code == 400, response.text
    assert "HER-id" in response.json()["detail"]
