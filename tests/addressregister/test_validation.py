"""One module decides validity: every rule, all errors at once, and no personal numbers ever."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from addressregister.errors import PartyValidationError
from addressregister.model import (
    CommunicationParty,
    Endpoint,
    EndpointKind,
    MessageProfile,
    PartyKind,
)
from addressregister.validation import normalise_version, organisation_number_valid


def party(**changes: object) -> CommunicationParty:
    values: dict[str, object] = {"her_id": 123, "kind": PartyKind.ORGANISATION, "name": "Apotek"}
    values.update(changes)
    return CommunicationParty(**values)  # type: ignore[arg-type]


def fields_of(exc: pytest.ExceptionInfo[PartyValidationError]) -> set[str]:
    return {e.field for e in exc.value.errors}


@pytest.mark.parametrize("number", ["974760673", "983044778", "915933149", "889640782"])
def test_valid_organisation_numbers(number: str) -> None:
    assert organisation_number_valid(number)


@pytest.mark.parametrize(
    "number",
    ["974760674", "98304477", "9830447780", "98304477x", "", "١٢٣٤٥٦٧٨٩"],
)
def test_invalid_organisation_numbers(number: str) -> None:
    assert not organisation_number_valid(number)


def test_check_digit_ten_is_never_valid() -> None:
    """A body whose mod-11 check digit would be 10 has no valid organisation number."""
    weights = (3, 2, 7, 6, 5, 4, 3, 2)
    body = next(
        f"{n:08d}"
        for n in range(10_000_000, 10_100_000)
        if 11 - sum(int(d) * w for d, w in zip(f"{n:08d}", weights, strict=True)) % 11 == 10
    )
    assert not any(organisation_number_valid(body + str(d)) for d in range(10))


def test_valid_party_passes() -> None:
    p = party(
        organisation_number="983044778",
        municipality="0301",
        business_type="108",
        receives=(MessageProfile("ERM92"), MessageProfile("DIALOG_SVAR", ("1.0", "1.1"))),
        endpoint=Endpoint(EndpointKind.AMQP, "123_async"),
        certificate_thumbprints=("AB" * 20,),
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    assert p.her_id == 123


def test_every_broken_rule_is_listed_at_once() -> None:
    with pytest.raises(PartyValidationError) as exc:
        party(
            her_id=0,
            name=" ",
            organisation_number="983044779",
            municipality="9901",
            business_type="9",
            endpoint=Endpoint(EndpointKind.WEBHOOK, "http://example.no/in"),
        )
    assert fields_of(exc) == {
        "herId",
        "name",
        "organisationNumber",
        "municipality",
        "businessType",
        "endpoint.address",
    }
    assert "983044779" in str(exc.value)


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Pasient 01017012345"},
        {"kind": PartyKind.PERSON, "parent_her_id": 1, "hpr_number": "01017012345"},
        {"organisation_number": "01017012345"},
        {"endpoint": Endpoint(EndpointKind.MAILBOX, "mb-01017012345")},
    ],
)
def test_personal_identity_numbers_are_never_accepted_nor_echoed(
    changes: dict[str, object],
) -> None:
    with pytest.raises(PartyValidationError) as exc:
        party(**changes)
    assert "01017012345" not in str(exc.value)
    assert "personal identity numbers are never accepted" in str(exc.value)


def test_level_two_parties_need_a_parent() -> None:
    for kind in (PartyKind.PERSON, PartyKind.SERVICE, PartyKind.DEPARTMENT):
        with pytest.raises(PartyValidationError) as exc:
            party(kind=kind)
        assert fields_of(exc) == {"parentHerId"}
    with pytest.raises(PartyValidationError):
        party(parent_her_id=123)  # its own parent


def test_only_persons_have_hpr_numbers() -> None:
    with pytest.raises(PartyValidationError) as exc:
        party(hpr_number="1234567")
    assert fields_of(exc) == {"hprNumber"}
    assert party(kind=PartyKind.PERSON, parent_her_id=1, hpr_number="1234567").hpr_number


def test_service_code_needs_a_known_code_list() -> None:
    with pytest.raises(PartyValidationError) as exc:
        party(service_code="1")
    assert fields_of(exc) == {"serviceCodeList"}
    with pytest.raises(PartyValidationError):
        party(service_code="1", service_code_list="9999")
    assert party(service_code="1", service_code_list="8663").service_code == "1"


def test_validity_needs_time_zones_and_order() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(PartyValidationError) as exc:
        party(valid_from=datetime(2020, 1, 1))
    assert fields_of(exc) == {"validFrom"}
    with pytest.raises(PartyValidationError) as exc:
        party(valid_from=start, valid_to=start - timedelta(days=1))
    assert fields_of(exc) == {"validTo"}
    oslo = timezone(timedelta(hours=1))
    assert party(valid_from=start, valid_to=datetime(2021, 1, 1, tzinfo=oslo)).valid_to


@pytest.mark.parametrize(
    ("profile", "problem"),
    [
        ((MessageProfile("dialog"),), "kodeverk 8279"),
        ((MessageProfile("ERM1"), MessageProfile("ERM1")), "listed twice"),
        ((MessageProfile("EPIKRISE", ("v1.2 2012-02-15",)),), "bare number"),
    ],
)
def test_profiles_are_checked(profile: tuple[MessageProfile, ...], problem: str) -> None:
    with pytest.raises(PartyValidationError, match=problem):
        party(receives=profile)


@pytest.mark.parametrize(
    ("kind", "address", "ok"),
    [
        (EndpointKind.AMQP, "8090688_async", True),
        (EndpointKind.AMQP, "queue with spaces", False),
        (EndpointKind.KAFKA, "receiver.8090688", True),
        (EndpointKind.KAFKA, "receiver/8090688", False),
        (EndpointKind.MAILBOX, "mb-1", True),
        (EndpointKind.FILE, "outbox/8090688", True),
        (EndpointKind.FILE, "/etc/outbox", False),
        (EndpointKind.FILE, "outbox/../../etc", False),
        (EndpointKind.WEBHOOK, "https://epj.example.no/in", True),
        (EndpointKind.WEBHOOK, "http://127.0.0.1:8123/in", True),
        (EndpointKind.WEBHOOK, "http://epj.example.no/in", False),
        (EndpointKind.WEBHOOK, "https://user:pw@epj.example.no/in", False),
        (EndpointKind.WEBHOOK, "ftp://epj.example.no/in", False),
    ],
)
def test_endpoint_addresses(kind: EndpointKind, address: str, ok: bool) -> None:
    if ok:
        assert party(endpoint=Endpoint(kind, address)).endpoint
    else:
        with pytest.raises(PartyValidationError) as exc:
            party(endpoint=Endpoint(kind, address))
        assert fields_of(exc) == {"endpoint.address"}


def test_thumbprints_are_hex_digests() -> None:
    with pytest.raises(PartyValidationError) as exc:
        party(certificate_thumbprints=("not-a-digest",))
    assert fields_of(exc) == {"certificateThumbprints"}


@pytest.mark.parametrize(
    ("given", "normal"),
    [("v1.6 2012-04-01", "1.6"), ("1.6", "1.6"), ("v2.0", "2.0"), (" 1.4 ", "1.4"), ("x", "x")],
)
def test_versions_are_normalised(given: str, normal: str) -> None:
    assert normalise_version(given) == normal
