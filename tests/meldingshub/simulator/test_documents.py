"""Every document the simulator means to be valid is valid, and looks like real traffic."""

import statistics
from collections import Counter

import pytest

from addressregister.index import RegisterIndex
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Outgoing, Traffic
from schemas.reader import MessageReader
from schemas.vocabulary import Family
from tests.meldingshub.simulator.conftest import START


@pytest.fixture(scope="module")
def sample(register: RegisterIndex) -> list[Outgoing]:
    traffic = Traffic(register, NATIONAL_2019, seed=5, fault_rate=0.0)
    return list(traffic.messages(3000, START))


def test_every_valid_document_is_accepted_and_read_as_sent(
    sample: list[Outgoing], reader: MessageReader
) -> None:
    families: Counter[str] = Counter()
    for outgoing in sample:
        read = reader.read(outgoing.raw)
        expected = outgoing.expectation
        assert read.accepted, (expected.kind, expected.message_type, read.problem)
        assert read.envelope is not None
        assert read.envelope.family.value == expected.family
        assert (read.envelope.message_type or "") == expected.message_type
        families[expected.family] += 1
    assert set(families) == {family.value for family in Family}
    assert families["apprec"] > 500  # receivers answer what asks for an answer


def test_receivers_answer_in_the_apprec_version_of_the_original(
    sample: list[Outgoing], reader: MessageReader
) -> None:
    answered = {}
    for outgoing in sample:
        envelope = reader.read(outgoing.raw).envelope
        assert envelope is not None
        if envelope.family is not Family.APPREC:
            answered[envelope.msg_id] = envelope.apprec_version
    versions: Counter[str] = Counter()
    for outgoing in sample:
        envelope = reader.read(outgoing.raw).envelope
        assert envelope is not None
        if envelope.family is Family.APPREC:
            assert envelope.original_msg_id in answered
            assert envelope.version == answered[envelope.original_msg_id]
            versions[envelope.version] += 1
    assert set(versions) == {"1.0", "1.1"}


def test_documents_have_realistic_encodings_sizes_and_attachments(
    sample: list[Outgoing], reader: MessageReader
) -> None:
    originals = [o for o in sample if o.expectation.kind == "message"]
    latin = [o for o in originals if o.raw.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'")]
    assert 0.15 < len(latin) / len(originals) < 0.35
    assert any("ø".encode("latin-1") in o.raw for o in latin)
    sizes = [len(o.raw) for o in originals]
    assert 2_000 <= statistics.median(sizes) <= 20_000
    attached = [o for o in originals if b"Base64Container" in o.raw]
    assert attached and max(len(o.raw) for o in attached) > 50_000
    envelopes = [reader.read(o.raw).envelope for o in attached]
    assert all(e is not None and e.attachment_count == 1 for e in envelopes)


def test_patients_are_synthetic_with_valid_check_digits(
    sample: list[Outgoing], reader: MessageReader
) -> None:
    numbers = [
        number
        for outgoing in sample[:500]
        for _kind, number in reader.patient_identifiers(outgoing.raw)
    ]
    assert len(numbers) > 300
    for number in numbers:
        digits = [int(d) for d in number]
        assert len(digits) == 11
        assert 81 <= digits[2] * 10 + digits[3] <= 92, "month + 80: the synthetic series"
        k1 = 11 - sum(d * w for d, w in zip(digits, (3, 7, 6, 1, 8, 9, 4, 5, 2), strict=False)) % 11
        k2 = (
            11
            - sum(d * w for d, w in zip(digits, (5, 4, 3, 2, 7, 6, 5, 4, 3, 2), strict=False)) % 11
        )
        assert digits[9] == k1 % 11 and digits[10] == k2 % 11


def test_service_based_addressing_is_common_where_services_receive(
    sample: list[Outgoing],
) -> None:
    to_kommune = [
        o.expectation
        for o in sample
        if o.expectation.kind == "message" and o.expectation.receiver_category == "kommune"
    ]
    modes = Counter(e.addressing_mode for e in to_kommune)
    assert 0.5 < modes["service"] / len(to_kommune) < 0.9
