"""A party as a record of ``addressregister.parties``: key = HER-id as decimal text, value =
Avro ``CommunicationParty`` framed by the shared codec, tombstone (no value) = removed.
"""

from collections.abc import Mapping
from typing import Any

from addressregister.errors import RegisterError
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from schemas.avro_codec import AvroCodec
from schemas.avro_errors import AvroCodecError
from schemas.identifiers import parse_her_id
from schemas.records import default_codec

AVRO_NAME = "no.meldingshub.CommunicationParty"


class BadPartyRecordError(RegisterError):
    """A record on the parties topic cannot be read; the follower skips it and says so."""


def party_key(her_id: int) -> bytes:
    """The Kafka key of a party: its HER-id as ASCII decimal (compaction keeps the latest)."""
    return str(her_id).encode("ascii")


def her_id_of_key(key: bytes | None) -> int:
    """The HER-id a key names."""
    her_id = parse_her_id(key)
    if her_id is None:
        raise BadPartyRecordError("record key is not a decimal HER-id")
    return her_id


def party_to_avro(party: CommunicationParty) -> dict[str, Any]:
    """The Avro value of a party (field names as in ``CommunicationParty.avsc``)."""
    return {
        "her_id": party.her_id,
        "kind": party.kind.value,
        "name": party.name,
        "parent_her_id": party.parent_her_id,
        "organisation_number": party.organisation_number,
        "municipality": party.municipality,
        "business_type": party.business_type,
        "service_code": party.service_code,
        "service_code_list": party.service_code_list,
        "hpr_number": party.hpr_number,
        "active": party.active,
        "valid_from": party.valid_from,
        "valid_to": party.valid_to,
        "receives": [_profile_value(p) for p in party.receives],
        "sends": [_profile_value(p) for p in party.sends],
        "endpoint": (
            {"kind": party.endpoint.kind.value, "address": party.endpoint.address}
            if party.endpoint is not None
            else None
        ),
        "certificate_thumbprints": list(party.certificate_thumbprints),
    }


def party_from_avro(value: Mapping[str, Any]) -> CommunicationParty:
    """The party of a decoded Avro value (validated like any other party)."""
    endpoint = value.get("endpoint")
    return CommunicationParty(
        her_id=value["her_id"],
        kind=PartyKind(value["kind"]),
        name=value["name"],
        parent_her_id=value.get("parent_her_id"),
        organisation_number=value.get("organisation_number"),
        municipality=value.get("municipality"),
        business_type=value.get("business_type"),
        service_code=value.get("service_code"),
        service_code_list=value.get("service_code_list"),
        hpr_number=value.get("hpr_number"),
        active=value["active"],
        valid_from=value.get("valid_from"),
        valid_to=value.get("valid_to"),
        receives=tuple(_profile(p) for p in value.get("receives", ())),
        sends=tuple(_profile(p) for p in value.get("sends", ())),
        endpoint=(
            Endpoint(EndpointKind(endpoint["kind"]), endpoint["address"])
            if endpoint is not None
            else None
        ),
        certificate_thumbprints=tuple(value.get("certificate_thumbprints", ())),
    )


def encode_party(party: CommunicationParty, codec: AvroCodec | None = None) -> bytes:
    """The framed Avro value of ``party``."""
    return (codec or default_codec()).encode(AVRO_NAME, party_to_avro(party))


def decode_party(data: bytes, codec: AvroCodec | None = None) -> CommunicationParty:
    """The party of a framed value; :class:`BadPartyRecordError` when it cannot be used."""
    try:
        return party_from_avro((codec or default_codec()).decode(data, AVRO_NAME))
    except (AvroCodecError, ValueError, KeyError) as exc:  # framing, invalid party, bad enum
        raise BadPartyRecordError(f"party record cannot be read: {exc}") from exc


def _profile_value(profile: MessageProfile) -> dict[str, Any]:
    return {"message_type": profile.message_type, "versions": list(profile.versions)}


def _profile(value: Mapping[str, Any]) -> MessageProfile:
    return MessageProfile(value["message_type"], tuple(value.get("versions", ())))
