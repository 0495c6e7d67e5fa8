"""Same seed, same traffic: identical bytes, principals, times and truth file."""

from access.principals import Principals
from addressregister.index import RegisterIndex
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Outgoing, Traffic
from meldingshub.simulator.truth import Truth
from tests.meldingshub.simulator.conftest import START


def _run(register: RegisterIndex, principals: Principals, seed: int) -> tuple[list[Outgoing], str]:
    traffic = Traffic(register, NATIONAL_2019, seed=seed, fault_rate=0.05, principals=principals)
    documents = list(traffic.messages(600, START, rate=50))
    documents += list(
        Traffic(register, NATIONAL_2019, seed=seed, fault_rate=0.05).year(2019, 400_000)
    )
    truth = Truth("Europe/Oslo", "kafka", {"seed": seed})
    truth.record_all(documents)
    return documents, truth.to_json()


def test_the_same_seed_gives_the_same_documents_and_truth(
    register: RegisterIndex, principals: Principals
) -> None:
    first, first_truth = _run(register, principals, 42)
    again, again_truth = _run(register, principals, 42)
    assert [(o.raw, o.principal, o.received_at, o.hub_message_id) for o in first] == [
        (o.raw, o.principal, o.received_at, o.hub_message_id) for o in again
    ]
    assert first_truth == again_truth


def test_another_seed_gives_other_traffic(register: RegisterIndex, principals: Principals) -> None:
    first, first_truth = _run(register, principals, 42)
    other, other_truth = _run(register, principals, 43)
    assert [o.raw for o in first] != [o.raw for o in other]
    assert first_truth != other_truth
