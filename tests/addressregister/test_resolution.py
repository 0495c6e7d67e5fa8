"""Receiver resolution and sender checks: every addressing mode and every failure with its code."""

from dataclasses import replace

import pytest

from addressregister.index import RegisterIndex
from addressregister.model import Endpoint, EndpointKind
from addressregister.resolution import check_sender, resolve_receiver
from addressregister.results import LookupProblem, Resolution, ResolutionFailure, SenderCheck
from schemas.parties import PartyRef
from schemas.vocabulary import AddressingMode, AppRecErrorCode, Category
from tests.addressregister import support as s


@pytest.fixture(scope="module")
def index() -> RegisterIndex:
    return s.small_index()


def resolved(outcome: Resolution | ResolutionFailure) -> Resolution:
    assert isinstance(outcome, Resolution), outcome
    return outcome


def failed(outcome: object) -> ResolutionFailure:
    assert isinstance(outcome, ResolutionFailure), outcome
    return outcome


def test_organisation_addressing(index: RegisterIndex) -> None:
    result = resolved(
        resolve_receiver(index, PartyRef(s.HOSPITAL), "HENVISNING", "v1.1 2012-02-15", s.NOW)
    )
    assert result.addressing_mode is AddressingMode.ORGANISATION
    assert result.receiver_her_id == result.addressed_her_id == s.HOSPITAL
    assert result.organisation_her_id == s.HOSPITAL
    assert result.category is Category.HELSEFORETAK
    assert result.endpoint == Endpoint(EndpointKind.AMQP, "100_async")


def test_service_with_own_endpoint_receives_itself(index: RegisterIndex) -> None:
    ref = PartyRef(organisation_her_id=s.KOMMUNE, service_her_id=s.HOME_CARE)
    result = resolved(resolve_receiver(index, ref, "LOG_INNLAGT", "1.6", s.NOW))
    assert result.addressing_mode is AddressingMode.SERVICE
    assert result.receiver_her_id == s.HOME_CARE
    assert result.endpoint.kind is EndpointKind.MAILBOX
    assert result.category is Category.KOMMUNE
    assert result.organisation_her_id == s.KOMMUNE


def test_department_without_endpoint_receives_through_its_organisation(
    index: RegisterIndex,
) -> None:
    ref = PartyRef(organisation_her_id=s.HOSPITAL, service_her_id=s.HOSPITAL_DEPT)
    result = resolved(resolve_receiver(index, ref, "HENVISNING", "1.1", s.NOW))
    assert result.addressing_mode is AddressingMode.SERVICE
    assert result.addressed_her_id == s.HOSPITAL_DEPT
    assert result.receiver_her_id == s.HOSPITAL
    assert result.category is Category.HELSEFORETAK  # inherited from the trust


def test_person_resolves_to_the_practice_that_receives_for_them(index: RegisterIndex) -> None:
    ref = PartyRef(organisation_her_id=s.PRACTICE, person_her_id=s.GP)
    result = resolved(resolve_receiver(index, ref, "DIALOG_FORESPORSEL", "1.1", s.NOW))
    assert result.addressing_mode is AddressingMode.PERSON
    assert result.addressed_her_id == s.GP
    assert result.receiver_her_id == s.PRACTICE
    assert result.category is Category.FASTLEGE
    assert result.endpoint.kind is EndpointKind.WEBHOOK


def test_level_two_without_level_one_still_resolves(index: RegisterIndex) -> None:
    result = resolved(
        resolve_receiver(index, PartyRef(person_her_id=s.GP), "EPIKRISE", None, s.NOW)
    )
    assert result.receiver_her_id == s.PRACTICE


def test_unknown_organisation_is_e21(index: RegisterIndex) -> None:
    failure = failed(resolve_receiver(index, PartyRef(999), "DIALOG_NOTAT", None, s.NOW))
    assert (failure.code, failure.problem, failure.her_id) == (
        AppRecErrorCode.E21,
        LookupProblem.UNKNOWN_PARTY,
        999,
    )


def test_unknown_person_is_e20_and_the_reason_names_no_person(index: RegisterIndex) -> None:
    ref = PartyRef(organisation_her_id=s.PRACTICE, person_her_id=987654)
    failure = failed(resolve_receiver(index, ref, "DIALOG_NOTAT", None, s.NOW))
    assert (failure.code, failure.problem) == (AppRecErrorCode.E20, LookupProblem.UNKNOWN_PERSON)
    assert "987654" not in failure.reason


def test_no_identifier_at_all_is_e21(index: RegisterIndex) -> None:
    failure = failed(resolve_receiver(index, PartyRef(), "DIALOG_NOTAT", None, s.NOW))
    assert (failure.code, failure.problem) == (AppRecErrorCode.E21, LookupProblem.NO_IDENTIFIER)


@pytest.mark.parametrize(
    ("ref", "code", "problem"),
    [
        (
            PartyRef(s.KOMMUNE, service_her_id=s.CLOSED_SERVICE),
            AppRecErrorCode.E21,
            LookupProblem.INACTIVE,
        ),
        (
            PartyRef(s.PRACTICE, person_her_id=s.GP_INACTIVE),
            AppRecErrorCode.E20,
            LookupProblem.INACTIVE,
        ),
        (
            PartyRef(s.PRACTICE, person_her_id=s.GP_RETIRED),
            AppRecErrorCode.E20,
            LookupProblem.OUTSIDE_VALIDITY,
        ),
        (
            PartyRef(s.PRACTICE, person_her_id=s.GP_FUTURE),
            AppRecErrorCode.E20,
            LookupProblem.OUTSIDE_VALIDITY,
        ),
        # an inactive organisation takes its people with it
        (
            PartyRef(s.CLOSED_PRACTICE, person_her_id=s.GP_IN_CLOSED_PRACTICE),
            AppRecErrorCode.E20,
            LookupProblem.INACTIVE,
        ),
        (PartyRef(s.CLOSED_PRACTICE), AppRecErrorCode.E21, LookupProblem.INACTIVE),
    ],
)
def test_inactive_or_outside_validity(
    index: RegisterIndex, ref: PartyRef, code: AppRecErrorCode, problem: LookupProblem
) -> None:
    failure = failed(resolve_receiver(index, ref, "DIALOG_NOTAT", None, s.NOW))
    assert (failure.code, failure.problem) == (code, problem)


def test_validity_is_judged_at_the_given_moment(index: RegisterIndex) -> None:
    ref = PartyRef(s.PRACTICE, person_her_id=s.GP_RETIRED)
    before = s.NOW.replace(year=2019)
    assert isinstance(resolve_receiver(index, ref, "DIALOG_NOTAT", None, before), Resolution)


def test_level_two_under_another_organisation_is_e21(index: RegisterIndex) -> None:
    ref = PartyRef(organisation_her_id=s.HOSPITAL, service_her_id=s.HOME_CARE)
    failure = failed(resolve_receiver(index, ref, "LOG_INNLAGT", None, s.NOW))
    assert (failure.code, failure.problem) == (
        AppRecErrorCode.E21,
        LookupProblem.NOT_UNDER_ORGANISATION,
    )
    assert str(s.HOSPITAL) in failure.reason


def test_level_two_under_unknown_organisation_is_e21_unknown(index: RegisterIndex) -> None:
    ref = PartyRef(organisation_her_id=777, service_her_id=s.HOME_CARE)
    failure = failed(resolve_receiver(index, ref, "LOG_INNLAGT", None, s.NOW))
    assert (failure.code, failure.problem, failure.her_id) == (
        AppRecErrorCode.E21,
        LookupProblem.UNKNOWN_PARTY,
        777,
    )


def test_type_not_in_profile_is_t10(index: RegisterIndex) -> None:
    failure = failed(resolve_receiver(index, PartyRef(s.PHARMACY), "HENVISNING", None, s.NOW))
    assert (failure.code, failure.problem) == (AppRecErrorCode.T10, LookupProblem.TYPE_NOT_ACCEPTED)


def test_version_not_in_profile_is_t10_but_listed_versions_pass(index: RegisterIndex) -> None:
    ref = PartyRef(s.HOSPITAL)
    assert isinstance(resolve_receiver(index, ref, "HENVISNING", "1.0", s.NOW), Resolution)
    failure = failed(resolve_receiver(index, ref, "HENVISNING", "v2.0 2017-11-30", s.NOW))
    assert failure.code is AppRecErrorCode.T10
    assert "2.0" in failure.reason


def test_profile_without_versions_accepts_every_version(index: RegisterIndex) -> None:
    result = resolve_receiver(index, PartyRef(s.RF), "ERM1", "v2.5 2013-10-08", s.NOW)
    assert isinstance(result, Resolution)
    assert result.category is Category.RESEPTFORMIDLEREN


def test_apprec_is_always_accepted(index: RegisterIndex) -> None:
    result = resolve_receiver(index, PartyRef(s.PHARMACY), "APPREC", "1.0", s.NOW)
    assert isinstance(result, Resolution)


def test_no_endpoint_in_the_chain_is_x99(index: RegisterIndex) -> None:
    ref = PartyRef(s.NO_ENDPOINT_ORG, service_her_id=s.NO_ENDPOINT_SERVICE)
    failure = failed(resolve_receiver(index, ref, "LOG_INNLAGT", None, s.NOW))
    assert (failure.code, failure.problem) == (AppRecErrorCode.X99, LookupProblem.NO_ENDPOINT)


def test_organisation_number_when_there_is_no_her_id(index: RegisterIndex) -> None:
    result = resolved(
        resolve_receiver(index, PartyRef(organisation_number="915933149"), "ERM1", None, s.NOW)
    )
    assert result.receiver_her_id == s.RF
    unknown = failed(
        resolve_receiver(index, PartyRef(organisation_number="974760673"), "ERM1", None, s.NOW)
    )
    assert (unknown.code, unknown.problem) == (AppRecErrorCode.E21, LookupProblem.UNKNOWN_PARTY)


def test_shared_organisation_number_is_ambiguous() -> None:
    parties = s.small_parties()
    twin = replace(parties[-2], her_id=601, name="Another branch of the chain")
    index = RegisterIndex([*parties, twin])
    failure = failed(
        resolve_receiver(index, PartyRef(organisation_number="983044778"), "ERM92", None, s.NOW)
    )
    assert failure.problem is LookupProblem.AMBIGUOUS_ORGANISATION_NUMBER
    # the HER-id still decides when there is one
    direct = PartyRef(organisation_her_id=601, organisation_number="983044778")
    assert resolved(resolve_receiver(index, direct, "ERM92", None, s.NOW)).receiver_her_id == 601


def test_sender_check_passes_and_reports_the_level(index: RegisterIndex) -> None:
    check = check_sender(index, PartyRef(s.PRACTICE, person_her_id=s.GP), "ERM1", None, s.NOW)
    assert isinstance(check, SenderCheck)
    assert check.addressing_mode is AddressingMode.PERSON
    assert check.sender_her_id == s.GP
    assert check.organisation_her_id == s.PRACTICE
    assert check.category is Category.FASTLEGE


@pytest.mark.parametrize(
    ("ref", "message_type", "code", "problem"),
    [
        (PartyRef(12345), "DIALOG_NOTAT", AppRecErrorCode.X99, LookupProblem.UNKNOWN_PARTY),
        (
            PartyRef(s.PRACTICE, person_her_id=999),
            "ERM1",
            AppRecErrorCode.X99,
            LookupProblem.UNKNOWN_PERSON,
        ),
        (
            PartyRef(s.PRACTICE, person_her_id=s.GP_INACTIVE),
            "ERM1",
            AppRecErrorCode.X99,
            LookupProblem.INACTIVE,
        ),
        (
            PartyRef(s.HOSPITAL, person_her_id=s.GP),
            "ERM1",
            AppRecErrorCode.X99,
            LookupProblem.NOT_UNDER_ORGANISATION,
        ),
        (PartyRef(s.PHARMACY), "ERM1", AppRecErrorCode.T10, LookupProblem.NOT_ALLOWED_TO_SEND),
        (PartyRef(), "ERM1", AppRecErrorCode.X99, LookupProblem.NO_IDENTIFIER),
    ],
)
def test_sender_failures(
    index: RegisterIndex,
    ref: PartyRef,
    message_type: str,
    code: AppRecErrorCode,
    problem: LookupProblem,
) -> None:
    failure = failed(check_sender(index, ref, message_type, None, s.NOW))
    assert (failure.code, failure.problem) == (code, problem)


def test_every_party_may_send_an_apprec(index: RegisterIndex) -> None:
    assert isinstance(
        check_sender(index, PartyRef(s.PHARMACY), "APPREC", "1.0", s.NOW), SenderCheck
    )


def test_sender_version_is_checked_against_the_send_profile(index: RegisterIndex) -> None:
    ref = PartyRef(s.HOSPITAL)
    assert isinstance(check_sender(index, ref, "EPIKRISE", "v1.2 2012-02-15", s.NOW), SenderCheck)
    failure = failed(check_sender(index, ref, "EPIKRISE", "1.0", s.NOW))
    assert failure.problem is LookupProblem.NOT_ALLOWED_TO_SEND


def test_resolution_returns_prebuilt_values(index: RegisterIndex) -> None:
    """The hot path allocates nothing: the same request gives the same object."""
    ref = PartyRef(s.KOMMUNE, service_her_id=s.HOME_CARE)
    first = resolve_receiver(index, ref, "LOG_INNLAGT", "1.6", s.NOW)
    assert resolve_receiver(index, ref, "LOG_INNLAGT", "1.6", s.NOW) is first
