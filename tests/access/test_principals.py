"""The principals file: roles, transports, token hashes only, fail closed, `credentials add`."""

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from access.principals import Principal, PrincipalsError, Role, parse_principals, read_principals
from access.principals_file import PrincipalsFile, add_credentials
from access.tokens import token_hash
from meldingshub.cli import main
from metrics.access import AccessMetrics

FULL = """
[[principal]]
name = "epj-a"
roles = ["sender", "receiver"]
her_ids = [8094866, 8094867]
token_hashes = ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
amqp_inbound_queue = "epj-a.to-hub"
amqp_error_queue = "epj-a.to-hub.error"
file_inbox = "/srv/inbox/epj-a"
kafka_principal = "User:epj-a"

[[principal]]
name = "kommune"
sender_her_ids = [91]

[[principal]]
name = "drift"
roles = ["operator", "monitor"]
her_ids = [8888801]
"""


def test_every_field_is_read_and_written_back_unchanged(tmp_path: Path) -> None:
    principals = parse_principals(FULL)
    epj = principals.get("epj-a")
    assert epj == Principal(
        "epj-a",
        frozenset({8094866, 8094867}),
        roles=frozenset({Role.SENDER, Role.RECEIVER}),
        token_hashes=frozenset({token_hash("test")}),
        amqp_inbound_queue="epj-a.to-hub",
        amqp_error_queue="epj-a.to-hub.error",
        file_inbox=Path("/srv/inbox/epj-a"),
        kafka_principal="User:epj-a",
    )
    kommune = principals.get("kommune")
    assert kommune == Principal("kommune", frozenset({91}))
    assert kommune.has(Role.SENDER) and kommune.has(Role.RECEIVER)
    assert not kommune.has(Role.OPERATOR) and not kommune.has(Role.MONITOR)
    drift = principals.get("drift")
    assert drift is not None and drift.roles == {Role.OPERATOR, Role.MONITOR}
    assert principals.authenticate("test") is epj
    assert principals.for_kafka_topic("hub.ingress.epj-a", "hub.ingress.") is epj
    assert principals.for_kafka_topic("hub.ingress.nobody", "hub.ingress.") is None
    assert principals.for_kafka_topic("epj-a", "hub.ingress.") is None
    assert not principals.open_mode
    assert list(parse_principals(principals.to_toml())) == list(principals)


ONE = '[[principal]]\nname = "a"\nher_ids = [1]\n'


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "names no"),
        ("# nothing here\n", "names no"),
        ("principal = []", "names no"),
        ("not toml [[[", "not valid TOML"),
        (ONE + 'token_hashes = ["abc"]', "sha256"),
        (ONE + "file_inbox = 3", "file_inbox"),
        (ONE + 'roles = ["admin"]', "roles"),
        (ONE + 'role = ["monitor"]', "unknown key 'role'"),
        (
            ONE + 'token_hashes = ["sha256:ab"]\n[[principal]]\nname = "b"\nher_ids = [2]\n'
            'token_hashes = ["sha256:ab"]',
            "token hash",
        ),
        (ONE + "roles = []", "roles"),
        (ONE * 2, "more than one"),
        ('[[principal]]\nname = "a/b"\nher_ids = [1]', "name"),
        ('[[principal]]\nname = "a"\nher_ids = []', "her_ids"),
        ('[[principal]]\nname = "a"\nher_ids = [0]', "her_ids"),
        ('[[principal]]\nname = "a"\nher_ids = [99999999999]', "her_ids"),
        ('[[principal]]\nname = "a"\nher_ids = ["1"]', "her_ids"),
        ("[[principal]]\nher_ids = [1]", "name"),
        (ONE + 'amqp_inbound_queue = "8094866_async"', "delivery queue"),
        (ONE + 'amqp_error_queue = "42_error"', "delivery queue"),
        (
            ONE + 'amqp_inbound_queue = "q"\n[[principal]]\nname = "b"\nher_ids = [2]\n'
            'amqp_inbound_queue = "q"',
            "AMQP queue 'q'",
        ),
    ],
)
def test_unsafe_files_are_refused_with_the_field_named(text: str, complaint: str) -> None:
    with pytest.raises(PrincipalsError, match=complaint):
        parse_principals(text)


def test_a_token_is_stored_only_as_its_hash_in_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "principals.toml"
    first = add_credentials(path, "epj", [5, 6])
    second = add_credentials(path, "epj", [7], [Role.MONITOR])
    text = path.read_text()
    assert first not in text and second not in text
    assert token_hash(first) in text and token_hash(second) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    principals = read_principals(path)
    epj = principals.get("epj")
    assert epj is not None and epj.her_ids == {5, 6, 7}
    assert epj.roles == {Role.SENDER, Role.RECEIVER, Role.MONITOR}
    assert principals.authenticate(first) is epj and principals.authenticate(second) is epj
    assert principals.authenticate("mhub_guess") is None
    with pytest.raises(PrincipalsError, match="her-id"):
        add_credentials(path, "new-system", [])


def test_credentials_add_prints_the_token_once_with_the_roles_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    args = ["credentials", "add", "--principal", "ops", "--her-id", "42", "--file", str(path)]
    result = CliRunner().invoke(main, [*args, "--role", "operator"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("mhub_") and len(token) > 40
    ops = read_principals(path).authenticate(token)
    assert ops is not None and ops.roles == {Role.OPERATOR}
    wrong = CliRunner().invoke(main, [*args, "--role", "admin"])
    assert wrong.exit_code == 2
    missing = CliRunner().invoke(main, ["credentials", "add", "--principal", "epj"])
    assert missing.exit_code == 1
    assert "MELDINGSHUB_ACCESS__PRINCIPALS_FILE" in missing.stderr


def _touch(path: Path, step: int) -> None:
    stamp = path.stat().st_mtime_ns + step * 1_000_000  # coarse clocks: a new stamp
    os.utime(path, ns=(stamp, stamp))


def test_changes_apply_without_a_restart_and_bad_ones_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    add_credentials(path, "epj", [1])
    registry = CollectorRegistry()
    metrics = AccessMetrics(registry)
    source = PrincipalsFile(path, check_interval_s=0.0, observe=metrics.set_state)
    assert registry.get_sample_value("meldingshub_principals") == 1
    token = add_credentials(path, "kommune", [2])
    _touch(path, 1)
    found = source.current().authenticate(token)
    assert found is not None and found.name == "kommune"
    good = path.read_text()
    for broken in ("not toml [[[", "", "# emptied by mistake\n"):
        path.write_text(broken)  # a broken or emptied file keeps the last good principals
        _touch(path, 2)
        assert source.current().authenticate(token) is not None
        assert not source.valid
        assert registry.get_sample_value("meldingshub_principals_file_valid") == 0
        assert registry.get_sample_value("meldingshub_principals") == 2
        path.write_text(good)
        _touch(path, 3)
        assert source.current().authenticate(token) is not None and source.valid
    path.write_text(good.replace(token_hash(token), token_hash("revoked")))
    _touch(path, 4)
    assert source.current().authenticate(token) is None  # revoked at the next check
    assert registry.get_sample_value("meldingshub_principals_file_valid") == 1


def test_a_missing_empty_or_broken_file_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    with pytest.raises(PrincipalsError, match="cannot read"):
        PrincipalsFile(path)
    path.write_text("")
    with pytest.raises(PrincipalsError, match="names no"):
        PrincipalsFile(path)
