"""Settings: environment, config file, defaults, and one clear message for bad values."""

from pathlib import Path
from typing import cast

import pytest
from click.testing import CliRunner

from meldingshub.cli import main
from meldingshub.cli.run import DEMO_MAILBOX_RETENTION_DAYS, _demo_retention
from meldingshub.settings import SettingsError, load_settings


def test_defaults_use_embedded_broker_and_sqlite_under_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MELDINGSHUB_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.kafka.embedded
    assert settings.store.dsn == f"sqlite:///{tmp_path / 'meldingshub.sqlite3'}"
    assert settings.kafka.topics.inbound.name == "hub.inbound"


def test_nested_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("MELDINGSHUB_KAFKA__TOPICS__INBOUND__PARTITIONS", "12")
    monkeypatch.setenv("MELDINGSHUB_KAFKA__SASL_PASSWORD", "hunter2")
    settings = load_settings()
    assert not settings.kafka.embedded
    assert settings.kafka.topics.inbound.partitions == 12
    assert settings.kafka.topics.inbound.name == "hub.inbound"
    assert "hunter2" not in repr(settings)
    assert settings.kafka.sasl_password is not None
    assert settings.kafka.sasl_password.get_secret_value() == "hunter2"


def test_config_file_below_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(
        '[kafka]\nbootstrap_servers = "file-broker:9092"\n[log]\nformat = "json"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MELDINGSHUB_LOG__FORMAT", "console")
    settings = load_settings(config)
    assert settings.kafka.bootstrap_servers == "file-broker:9092"
    assert settings.log.format == "console"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        (
            "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS",
            "no-port-here",
            "MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS",
        ),
        ("MELDINGSHUB_LOG__FORMAT", "xml", "MELDINGSHUB_LOG__FORMAT"),
        (
            "MELDINGSHUB_KAFKA__TOPICS__EVENTS__PARTITIONS",
            "0",
            "MELDINGSHUB_KAFKA__TOPICS__EVENTS__PARTITIONS",
        ),
        ("MELDINGSHUB_HTTP__API_BIND", "everywhere", "MELDINGSHUB_HTTP__API_BIND"),
    ],
)
def test_invalid_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as excinfo:
        load_settings()
    assert named in str(excinfo.value)


def test_unknown_setting_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text("[kafka]\nbootstrap_server = 'typo:9092'\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="BOOTSTRAP_SERVER"):
        load_settings(config)


def test_cli_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELDINGSHUB_KAFKA__EMBEDDED_PORT", "99999")
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "meldingshub: error: invalid setting MELDINGSHUB_KAFKA__EMBEDDED_PORT"
    )


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


def test_inbound_retention_must_outlast_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undelivered documents are read from hub.inbound: it must keep them long enough."""
    monkeypatch.setenv("MELDINGSHUB_DELIVERY__MAX_AGE_S", str(5 * 86_400))
    with pytest.raises(SettingsError, match=r"retention\.ms"):
        load_settings()
    monkeypatch.setenv("MELDINGSHUB_DELIVERY__MAX_AGE_S", str(86_400))
    assert load_settings().kafka.topics.inbound.config["retention.ms"] == "604800000"


def test_amqp_prefetch_is_the_byte_budget_in_largest_documents() -> None:
    from addressregister.index import RegisterIndex
    from addressregister.live import StaticRegister
    from broker_adapters.ingress import IngressGate, IngressSettings
    from kafka_io import DurableProducer
    from schemas.xmlparse import ParseLimits

    def no_producer(on_error: object) -> DurableProducer:
        return cast(DurableProducer, _NoProducer(on_error))

    def prefetch(settings: IngressSettings, limits: ParseLimits) -> int:
        register = StaticRegister(RegisterIndex([]))
        gate = IngressGate(no_producer, "hub.inbound", settings, register, limits=limits)
        return gate.amqp_prefetch()

    assert prefetch(IngressSettings(), ParseLimits()) == (256 << 20) // (35 << 20)
    assert prefetch(IngressSettings(in_flight_bytes=1024), ParseLimits()) == 1
    small = ParseLimits(max_bytes=1 << 20)
    assert prefetch(IngressSettings(in_flight_bytes=64 << 20), small) == 64


class _NoProducer:
    def __init__(self, _on_error: object) -> None:
        pass

    def close(self, _timeout_s: float = 0) -> None:
        pass


def test_helseid_without_the_public_url_refuses_to_serve(tmp_path: Path) -> None:
    """DPoP proofs are checked against the configured address, never the Host header."""
    from access.helseid_settings import HelseIdSettings
    from hubcore.errors import MeldingshubError
    from meldingshub.api_app import msh_deps
    from meldingshub.openapi import _DocumentResources

    resources = _DocumentResources(tmp_path)
    issuer, jwks_file = "https://helseid.example", tmp_path / "jwks.json"
    resources.settings.access.helseid = HelseIdSettings(issuer=issuer, jwks_file=jwks_file)
    with pytest.raises(MeldingshubError, match="PUBLIC_URL"):
        msh_deps(resources)
    resources.settings.access.helseid = HelseIdSettings(
        issuer=issuer, jwks_file=jwks_file, public_url="https://msh.example.no"
    )
    assert "dpop" in msh_deps(resources).authenticators
    resources.store.close()


def test_the_demo_keeps_what_its_receivers_read_an_hour_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MELDINGSHUB_DELIVERY__MAILBOX_RETENTION_DAYS", raising=False)
    demo = _demo_retention(load_settings(None))
    assert demo.delivery.mailbox_retention_days == DEMO_MAILBOX_RETENTION_DAYS
    assert demo.delivery.mailbox_prune_interval_s < 3600
    monkeypatch.setenv("MELDINGSHUB_DELIVERY__MAILBOX_RETENTION_DAYS", "5")
    assert _demo_retention(load_settings(None)).delivery.mailbox_retention_days == 5
