"""`meldingshub simulate` and `meldingshub stats verify` as commands."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from access.principals import Principals, read_principals
from addressregister.fileformat import write_register_file
from addressregister.index import RegisterIndex
from hubstats.store import StatisticsStore
from meldingshub.cli import main
from meldingshub.simulator.mix import NATIONAL_2019
from meldingshub.simulator.traffic import Traffic
from meldingshub.simulator.truth import Truth
from schemas.reader import MessageReader
from tests.meldingshub.simulator.conftest import START, route


@pytest.fixture
def environment(tmp_path: Path, register: RegisterIndex, principals: Principals) -> dict[str, str]:
    register_file = tmp_path / "register.json"
    write_register_file(register_file, list(register))
    principals_file = tmp_path / "principals.toml"
    principals_file.write_text(principals.to_toml(), encoding="utf-8")
    return {
        "MELDINGSHUB_DATA_DIR": str(tmp_path / "var"),
        "MELDINGSHUB_STORE__DSN": f"sqlite:///{tmp_path / 'stats.sqlite3'}",
        "MELDINGSHUB_ADDRESS_REGISTER__SNAPSHOT": str(register_file),
        "MELDINGSHUB_ACCESS__PRINCIPALS_FILE": str(principals_file),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "choose --messages N, --rate R or --year Y --scale 1:N"),
        (["--year", "2019"], "--year needs --scale"),
        (["--year", "2019", "--scale", "1:1000", "--via", "file"], "only --via kafka"),
        (["--messages", "5", "--via", "http"], "--via http needs --tokens"),
        (["--year", "2019", "--scale", "1:0"], "give the scale as 1:N"),
    ],
)
def test_usage_errors_say_what_to_do(
    environment: dict[str, str], args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, ["simulate", *args], env=environment)
    assert result.exit_code == 2
    assert message in result.output


def test_simulate_into_the_file_catalogue_writes_every_document_and_the_truth(
    environment: dict[str, str], tmp_path: Path
) -> None:
    truth_file = tmp_path / "truth.json"
    args = ["simulate", "--messages", "120", "--via", "file", "--seed", "3", "--fault-rate", "0.2"]
    args += ["--start", "2024-05-06T08:00:00", "--truth", str(truth_file)]
    result = CliRunner().invoke(main, args, env=environment)
    assert result.exit_code == 0, result.output
    inboxes = tmp_path / "var" / "inbox"
    files = sorted(inboxes.glob("her-*/*.xml"))
    truth = Truth.read(truth_file)
    assert len(files) == truth.documents > 120  # the receivers' AppRecs come on top
    assert not list(inboxes.glob("her-*/.*.tmp"))
    assert (
        sum(truth.ingress_refusals.values())
        == truth.kinds["malformed"] + truth.kinds["spoofed_sender"]
    )
    again = tmp_path / "again.json"
    args[-1] = str(again)
    assert CliRunner().invoke(main, args, env=environment).exit_code == 0
    assert again.read_text() == truth_file.read_text()
    assert json.loads(truth_file.read_text())["simulation"]["seed"] == 3


def test_stats_verify_exits_1_on_differences_and_0_when_the_export_matches(
    environment: dict[str, str],
    tmp_path: Path,
    register: RegisterIndex,
    principals: Principals,
    reader: MessageReader,
) -> None:
    traffic = Traffic(register, NATIONAL_2019, seed=8, fault_rate=0.05, principals=principals)
    documents = list(traffic.messages(150, START))
    truth = Truth("Europe/Oslo", "kafka")
    truth.record_all(documents)
    truth_file = tmp_path / "truth.json"
    truth.write(truth_file)
    runner = CliRunner()
    command = ["stats", "verify", "--truth", str(truth_file)]

    empty = runner.invoke(main, [*command, "--limit", "3"], env=environment)
    assert empty.exit_code == 1
    assert "expected" in empty.output and "more" in empty.output

    store = StatisticsStore.open(environment["MELDINGSHUB_STORE__DSN"])
    store.apply([e for r in route(documents, register, principals, reader) for e in r.events])
    store.close()
    matched = runner.invoke(main, command, env=environment)
    assert matched.exit_code == 0, matched.output
    assert "0 difference(s)" in matched.output


def test_provision_gives_every_organisation_a_principal_and_a_working_token(
    environment: dict[str, str], tmp_path: Path, register: RegisterIndex
) -> None:
    target = tmp_path / "provisioned"
    result = CliRunner().invoke(main, ["simulate", "--provision", str(target)], env=environment)
    assert result.exit_code == 0, result.output
    principals = read_principals(target / "principals.toml")
    tokens = json.loads((target / "tokens.json").read_text())
    organisations = [p for p in register if p.parent_her_id is None]
    assert len(principals) == len(tokens) == len(organisations)
    for name, token in list(tokens.items())[:50]:
        found = principals.authenticate(token)
        assert found is not None and found.name == name
    # --via amqp needs a queue per principal, none of them a delivery queue (<HerId>_async)
    queues = [p.amqp_inbound_queue for p in principals]
    assert all(queues) and len(set(queues)) == len(queues)
    assert not any(str(q).endswith(("_async", "_sync", "_error")) for q in queues)
    assert (target / "tokens.json").stat().st_mode & 0o077 == 0
