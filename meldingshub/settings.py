"""The one typed settings object, read once in the composition root.

Sources, highest first: keyword arguments, ``MELDINGSHUB_*`` environment
variables (nested with ``__``, e.g. ``MELDINGSHUB_KAFKA__BOOTSTRAP_SERVERS``), the
TOML file named by ``MELDINGSHUB_CONFIG`` (or ``--config``), then defaults.
"""

import os
from pathlib import Path
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from access.settings import AccessSettings
from addressregister.settings import RegisterSettings
from broker_adapters.delivery.settings import DeliverySettings
from broker_adapters.ingress.settings import IngressSettings
from broker_adapters.settings import AmqpSettings
from hubcore.errors import MeldingshubError
from hubstats.settings import StatisticsSettings
from kafka_io.settings import KafkaSettings
from routing.settings import RoutingSettings
from schemas.settings import SchemaSettings

CONFIG_ENV = "MELDINGSHUB_CONFIG"


class HttpSettings(BaseModel):
    """Bind addresses of the hub's HTTP servers."""

    model_config = ConfigDict(extra="forbid")

    api_bind: str = Field(default="127.0.0.1:8080", pattern=r"^[^:\s]+:\d{1,5}$")
    ops_bind: str = Field(default="127.0.0.1:9464", pattern=r"^[^:\s]+:\d{1,5}$")
    """Serves ``/metrics``, ``/livez`` and ``/readyz``."""
    console_session_key: SecretStr | None = None
    """Signs the operator console's session cookies; give every API replica the same one.
    Empty: a random key per process (sessions end when it restarts)."""


class LogSettings(BaseModel):
    """How log records are rendered."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["auto", "json", "console"] = "auto"
    """``auto``: console renderer on a terminal, JSON lines otherwise."""
    level: Literal["debug", "info", "warning", "error"] = "info"


class StoreSettings(BaseModel):
    """The statistics store (counts, message status, mailbox)."""

    model_config = ConfigDict(extra="forbid")

    dsn: str = ""
    """SQLAlchemy URL; empty means a SQLite file under the data directory."""


class Settings(BaseSettings):
    """Everything a hub process needs to know, validated at start."""

    model_config = SettingsConfigDict(
        env_prefix="MELDINGSHUB_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=None,
    )

    data_dir: Path = Path("var")
    kafka: KafkaSettings = KafkaSettings()
    http: HttpSettings = HttpSettings()
    log: LogSettings = LogSettings()
    store: StoreSettings = StoreSettings()
    schemas: SchemaSettings = SchemaSettings()
    access: AccessSettings = AccessSettings()
    routing: RoutingSettings = RoutingSettings()
    address_register: RegisterSettings = RegisterSettings()
    statistics: StatisticsSettings = StatisticsSettings()
    ingress: IngressSettings = IngressSettings()
    delivery: DeliverySettings = DeliverySettings()
    amqp: AmqpSettings = AmqpSettings()

    @property
    def embedded_broker_dir(self) -> Path:
        """Where the embedded broker's checkpoint and cold store live (owner only)."""
        return self.data_dir / "embedded-broker"

    @property
    def default_store_dsn(self) -> str:
        """The embedded default's store: a SQLite file in the data directory."""
        return f"sqlite:///{self.data_dir / 'meldingshub.sqlite3'}"

    @model_validator(mode="after")
    def _default_store(self) -> "Settings":
        if not self.store.dsn:
            self.store = StoreSettings(dsn=self.default_store_dsn)
        return self

    @model_validator(mode="after")
    def _documents_outlive_delivery(self) -> "Settings":
        """Claim checks point into ``hub.inbound``: it must keep a document longer than
        delivery may take to deliver it, or a late attempt would find it gone."""
        retention = self.kafka.topics.inbound.config.get("retention.ms", "-1")
        if not retention.lstrip("-").isdigit():
            raise ValueError(
                f"kafka.topics.inbound.config retention.ms is not a number: {retention}"
            )
        if int(retention) >= 0 and int(retention) < self.delivery.max_age_s * 2000:
            raise ValueError(
                f"kafka.topics.inbound.config retention.ms ({retention}) must be at least twice "
                f"delivery.max_age_s ({self.delivery.max_age_s} s): undelivered messages are "
                "read from hub.inbound; raise the retention or lower the age"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_file = settings_cls.model_config.get("toml_file") or os.environ.get(CONFIG_ENV)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(str(config_file))))
        return tuple(sources)


class SettingsError(MeldingshubError):
    """The settings are invalid; the message names every offending setting."""


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate the settings once, turning every problem into one clear message."""
    env_file = os.environ.get(CONFIG_ENV)
    if config_file is None and env_file:
        config_file = Path(env_file)
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"config file {config_file} does not exist")
    settings_cls: type[Settings] = Settings
    if config_file is not None:
        # A subclass reading this one file, so nothing global (os.environ) is changed.
        config = {**Settings.model_config, "toml_file": config_file}
        settings_cls = cast(
            "type[Settings]", type("Settings", (Settings,), {"model_config": config})
        )
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    except ValueError as exc:  # malformed TOML or JSON in an environment variable
        raise SettingsError(f"cannot read settings: {exc}") from None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        path = "__".join(str(part) for part in error["loc"]).upper()
        problems.append(f"MELDINGSHUB_{path}: {error['msg']}")
    return "invalid setting " + "; ".join(problems)
