"""The principals file: transports per principal, token hashes only, `credentials add`."""

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from meldingshub.cli import main
from routing.principals import (
    Principal,
    Principals,
    PrincipalsError,
    PrincipalsFile,
    add_token,
    token_hash,
)

FULL = """
[[principal]]
name = "epj-a"
sender_her_ids = [8094866, 8094867]
token_hashes = ["sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
amqp_inbound_queue = "8094866_async"
amqp_error_queue = "8094866_error"
file_inbox = "/srv/inbox/epj-a"
kafka_principal = "User:epj-a"

[[principal]]
name = "kommune"
sender_her_ids = [91]
"""


def test_every_transport_field_is_read_and_written_back_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    path.write_text(FULL)
    principals = Principals.from_file(path)
    epj = principals.get("epj-a")
    assert epj == Principal(
        "epj-a",
        frozenset({8094866, 8094867}),
        token_hashes=frozenset({token_hash("test")}),
        amqp_inbound_queue="8094866_async",
        amqp_error_queue="8094866_error",
        file_inbox=Path("/srv/inbox/epj-a"),
        kafka_principal="User:epj-a",
    )
    assert principals.get("kommune") == Principal("kommune", frozenset({91}))
    assert principals.authenticate("test") is epj
    assert principals.for_kafka_principal("User:epj-a") is epj
    assert principals.for_kafka_principal("epj-a") is None
    path.write_text(principals.to_toml())
    assert list(Principals.from_file(path)) == list(principals)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('[[principal]]\nname = "a"\nsender_her_ids = [1]\ntoken_hashes = ["abc"]', "sha256"),
        ('[[principal]]\nname = "a"\nsender_her_ids = [1]\nfile_inbox = 3', "file_inbox"),
        ('[[principal]]\nname = "a"\nsender_her_ids = [1]\n' * 2, "twice"),
        ("[[principal]]\nsender_her_ids = [1]", "no name"),
    ],
)
def test_malformed_entries_are_refused_with_the_field_named(
    tmp_path: Path, text: str, complaint: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(PrincipalsError, match=complaint):
        Principals.from_file(path)


def test_a_token_is_stored_only_as_its_hash_in_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "principals.toml"
    first = add_token(path, "epj", [5, 6])
    second = add_token(path, "epj", [7])
    text = path.read_text()
    assert first not in text and second not in text
    assert token_hash(first) in text and token_hash(second) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    principals = Principals.from_file(path)
    epj = principals.get("epj")
    assert epj is not None and epj.sender_her_ids == {5, 6, 7}
    assert principals.authenticate(first) is epj and principals.authenticate(second) is epj
    assert principals.authenticate("mhub_guess") is None
    with pytest.raises(PrincipalsError, match="her-id"):
        add_token(path, "new-system", [])


def test_credentials_add_prints_the_token_once(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    result = CliRunner().invoke(
        main, ["credentials", "add", "--principal", "epj", "--her-id", "42", "--file", str(path)]
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert token.startswith("mhub_") and len(token) > 40
    assert Principals.from_file(path).authenticate(token) is not None
    missing = CliRunner().invoke(main, ["credentials", "add", "--principal", "epj"])
    assert missing.exit_code == 1
    assert "MELDINGSHUB_ROUTING__PRINCIPALS_FILE" in missing.stderr


def test_new_credentials_work_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "principals.toml"
    add_token(path, "epj", [1])
    source = PrincipalsFile(path, check_interval_s=0.0)
    token = add_token(path, "kommune", [2])
    stamp = path.stat().st_mtime_ns
    os.utime(path, ns=(stamp + 1_000_000, stamp + 1_000_000))  # coarse clocks: a new stamp
    found = source.current().authenticate(token)
    assert found is not None and found.name == "kommune"
    path.write_text("not toml [[[")  # a broken edit keeps the last good principals
    os.utime(path, ns=(stamp + 2_000_000, stamp + 2_000_000))
    assert source.current().authenticate(token) is not None
