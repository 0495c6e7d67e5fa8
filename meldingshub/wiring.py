"""Builds the components a process runs, by name, from the settings: the composition root.

``meldingshub run`` with no names runs every component in one process, sharing
one live register, one store and one metrics registry; ``meldingshub run router``
runs one (a Kubernetes Deployment per component). Nothing here connects to a
network before the Hub has checked that the broker answers.
"""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from access.principals import Principal, Principals, Role
from access.principals_file import PrincipalsFile, write_atomically
from access.tokens import new_token, token_hash
from addressregister.categories import CategoryTable
from addressregister.fileformat import write_register_file
from addressregister.generator import generate_national_register, on_this_machine
from addressregister.importer import seed_from_snapshot
from addressregister.live import LiveRegister
from broker_adapters.delivery.mailbox_store import MailboxStore
from broker_adapters.delivery.worker import DeliveryComponent, build_endpoints
from broker_adapters.ingress.assemble import ingress_adapters
from broker_adapters.ingress.base import IngressAdapter
from broker_adapters.ingress.gate import IngressGate
from hubcore.errors import MeldingshubError
from hubstats.aggregator import StatisticsAggregator
from hubstats.store import StatisticsStore
from kafka_io import client_config, ensure_topics
from meldingshub.api_app import ALL_PARTS, api_app
from meldingshub.cold_store import cold_store
from meldingshub.components import Component
from meldingshub.components.api_server import ApiServer
from meldingshub.components.router import RouterComponent, router_topics
from meldingshub.settings import Settings
from meldingshub.simulator.component import SimulatedStream
from meldingshub.simulator.parties import REGISTER_FILE, register_index
from meldingshub.simulator.receivers import SimulatedReceivers
from meldingshub.simulator.traffic import provision
from metrics.access import AccessMetrics
from metrics.delivery import DeliveryMetrics
from metrics.ingress import IngressMetrics
from metrics.live import HubMetrics, message_types_of
from metrics.register import RegisterMetrics
from schemas.catalogue import default_catalogue
from schemas.reader import MessageReader

log = structlog.get_logger(__name__)

EMBEDDED_REGISTER_SEED = 2019


class UnknownComponentError(MeldingshubError):
    """A component name that this hub does not have."""


class AccessConfigError(MeldingshubError):
    """The hub would run without access control, or cannot read its principals."""


@dataclass
class Assembly:
    """What one process runs: its components, extra readiness checks and clean-up."""

    components: list[Component]
    checks: dict[str, Callable[[], bool]] = field(default_factory=dict)
    close: Callable[[], None] = lambda: None
    adapters: dict[str, str] = field(default_factory=dict)
    """Ingress adapter (the ``adapter`` metric label) -> the component that runs it."""
    broker_restarted: Callable[[], None] = lambda: None
    """Called with every component stopped, after the broker restarted from a checkpoint."""


class Resources:
    """Per-process shared resources, created on first use."""

    def __init__(
        self, settings: Settings, bootstrap_servers: str, registry: CollectorRegistry
    ) -> None:
        self.settings = settings
        self.bootstrap_servers = bootstrap_servers
        self.registry = registry
        self._closers: list[Callable[[], None]] = []
        self.checks: dict[str, Callable[[], bool]] = {}
        """Readiness checks of the resources created so far: each declares its own."""
        self.adapters: dict[str, str] = {}
        """Ingress adapters built so far -> their component's name (see :class:`Assembly`)."""

    def on_close(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` when the process is done with its components (last added, first)."""
        self._closers.append(closer)

    @cached_property
    def metrics(self) -> HubMetrics:
        return HubMetrics(self.registry, message_types_of(default_catalogue()))

    @cached_property
    def register_metrics(self) -> RegisterMetrics:
        return RegisterMetrics(self.registry)

    @cached_property
    def register(self) -> LiveRegister:
        settings = self.settings
        snapshot = settings.address_register.snapshot or self._embedded_snapshot()
        if snapshot is not None:
            seeded = seed_from_snapshot(snapshot, settings.kafka, self.bootstrap_servers)
            if seeded:
                log.info("register seeded from snapshot", parties=seeded, snapshot=str(snapshot))
        live = LiveRegister(
            settings.kafka,
            self.bootstrap_servers,
            categories=CategoryTable.configured(
                settings.address_register.category_rules, settings.address_register.categories_file
            ),
            metrics=self.register_metrics,
            poll_interval_s=settings.address_register.poll_interval_s,
            load_timeout_s=settings.address_register.load_timeout_s,
        ).start()
        self._closers.append(live.stop)
        self.checks["register"] = live.usable
        return live

    def _embedded_snapshot(self) -> Path | None:
        """The embedded default's register: the synthetic national register, generated once,
        its receivers on this machine (the demo's simulated receivers take what they get)."""
        if not self.settings.kafka.embedded:
            return None
        path = self.settings.data_dir / REGISTER_FILE
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_register_file(
                path, on_this_machine(generate_national_register(EMBEDDED_REGISTER_SEED))
            )
            log.info("national register generated", path=str(path))
        return path

    @cached_property
    def store(self) -> StatisticsStore:
        dsn = self.settings.store.dsn
        if dsn.startswith("sqlite:///"):
            Path(dsn.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        store = StatisticsStore.open(dsn, self.settings.statistics.timezone)
        self._closers.append(store.close)
        self.checks["store"] = store.reachable
        return store

    @cached_property
    def mailbox(self) -> MailboxStore:
        """Messages waiting for receivers that pull (same database as the statistics)."""
        self.store  # noqa: B018 - creates the SQLite directory and runs the migrations first
        return MailboxStore.open(self.settings.store.dsn)

    @cached_property
    def principals(self) -> PrincipalsFile:
        """The principals in force, re-read when the file changes; fail closed without one."""
        access, embedded = self.settings.access, self.settings.kafka.embedded
        metrics = AccessMetrics(self.registry)
        if access.open_mode:
            if not embedded:
                raise AccessConfigError(
                    "MELDINGSHUB_ACCESS__OPEN_MODE is only allowed with the embedded broker; "
                    "give the hub a principals file (MELDINGSHUB_ACCESS__PRINCIPALS_FILE)"
                )
            log.warning("open mode: every sender is accepted without credentials (demo only)")
            metrics.set_state(True, 0)
            fixed = PrincipalsFile.fixed(Principals.open())
            self.checks["principals"] = lambda: fixed.valid
            return fixed
        path = access.principals_file
        if path is None:
            if not embedded:
                raise AccessConfigError(
                    "no principals file: set MELDINGSHUB_ACCESS__PRINCIPALS_FILE "
                    "(`meldingshub credentials add` creates one); the hub does not run open"
                )
            path = self._embedded_principals()
        principals = PrincipalsFile(path, access.reload_interval_s, observe=metrics.set_state)
        self.checks["principals"] = lambda: principals.valid
        return principals

    def _embedded_principals(self) -> Path:
        """The embedded default's principals: one per organisation of the synthetic register,
        with a token each in ``tokens.json`` beside it (both owner-only), made once."""
        path = self.settings.access.file_for(self.settings.data_dir, embedded=True)
        assert path is not None
        if not path.is_file():
            snapshot = self.settings.address_register.snapshot or self._embedded_snapshot()
            if snapshot is None:
                raise AccessConfigError("no register to provision principals from")
            principals, tokens = provision(register_index(snapshot, self.settings.address_register))
            principals = _with_operator(principals, tokens, self.settings.routing.hub_her_id)
            write_atomically(path.with_name("tokens.json"), json.dumps(tokens, indent=1))
            write_atomically(path, principals.to_toml())
            log.info("principals provisioned for the embedded hub", principals=len(principals))
        return path

    @cached_property
    def gate(self) -> IngressGate:
        """The ingress gate: cheap checks, then the durable write to hub.inbound."""
        gate = IngressGate.create(
            self.settings.kafka,
            self.bootstrap_servers,
            self.settings.ingress,
            self.register,
            IngressMetrics(self.registry),
            self.settings.schemas.parse_limits(),
        )
        self._closers.append(gate.close)
        self.checks["ingress-write"] = gate.ready
        return gate

    def close(self) -> None:
        for closer in reversed(self._closers):
            closer()

    def broker_restarted(self) -> None:
        """The clients that outlive a component's run start afresh: the gate's idempotent
        producer (the new broker does not know its id). The register's follower reads on
        at the same offsets, which the checkpoint kept."""
        if "gate" in self.__dict__:
            self.gate.renew_producer()


EMBEDDED_OPERATOR = "operator"
"""The embedded hub's operator principal (console, dead letters); its token is in tokens.json."""


def _with_operator(principals: Principals, tokens: dict[str, str], hub_her_id: int) -> Principals:
    """``principals`` and an operator acting for the hub itself, its token added to ``tokens``."""
    token = tokens[EMBEDDED_OPERATOR] = new_token()
    operator = Principal(
        EMBEDDED_OPERATOR,
        frozenset({hub_her_id}),
        roles=frozenset({Role.OPERATOR, Role.MONITOR}),
        token_hashes=frozenset({token_hash(token)}),
    )
    return Principals([*principals, operator])


def _router(res: Resources) -> Component:
    kafka = res.settings.kafka
    ensure_topics(
        client_config(kafka, res.bootstrap_servers),
        router_topics(res.settings.routing, kafka.topics.inbound.partitions),
    )
    register = res.register
    router = RouterComponent(
        kafka,
        res.settings.routing,
        res.settings.data_dir / "state",
        res.bootstrap_servers,
        register.snapshot,
        MessageReader(res.settings.schemas),
        res.principals.current,
        register_usable=register.usable,
        cold=cold_store(res.settings) if kafka.embedded else None,
    )
    res.on_close(router.close)
    return router


def _aggregator(res: Resources) -> Component:
    return StatisticsAggregator(
        res.settings.kafka, res.bootstrap_servers, res.store, res.settings.statistics, res.metrics
    )


def _delivery(res: Resources) -> Component:
    settings = res.settings
    endpoints = build_endpoints(
        settings.delivery,
        settings.amqp,
        settings.kafka,
        res.bootstrap_servers,
        res.mailbox,
        settings.delivery.outbox(settings.data_dir),
    )
    return DeliveryComponent(
        settings.delivery,
        settings.kafka,
        settings.routing,
        res.bootstrap_servers,
        res.register.snapshot,
        endpoints,
        mailbox=res.mailbox,
        metrics=DeliveryMetrics(
            res.registry, [tier.name for tier in settings.delivery.retry_tiers]
        ),
        register_usable=res.register.usable,
    )


def _ingress_adapters(res: Resources) -> list[Component]:
    """The queue-, topic- and directory-driven ingress adapters the settings enable."""
    components = ingress_adapters(
        res.gate,
        res.principals,
        res.settings.kafka,
        res.bootstrap_servers,
        res.settings.amqp,
        res.settings.data_dir,
        res.settings.routing.hub_her_id,
    )
    res.adapters |= {c.transport: c.name for c in components if isinstance(c, IngressAdapter)}
    return list(components)


def _register_api(res: Resources) -> list[Component]:
    return [ApiServer("register-api", api_app(res, ["register"]), res.settings.http.api_bind)]


def _http_adapter(res: Resources, name: str, app: FastAPI) -> ApiServer:
    """The API server of ``app``, which serves the HTTP ingress adapter."""
    res.adapters["http"] = name
    return ApiServer(name, app, res.settings.http.api_bind)


def _ingress_http(res: Resources) -> list[Component]:
    """The senders' front door: message API and status, statistics, the operator console,
    and the other adapters."""
    app = api_app(res, ["msh", "ingress", "mailbox", "statistics", "console"])
    return [_http_adapter(res, "ingress-http", app), *_ingress_adapters(res)]


def _all_in_one(res: Resources) -> list[Component]:
    app = api_app(res, ALL_PARTS)
    return [
        _router(res),
        _delivery(res),
        _aggregator(res),
        _http_adapter(res, "api", app),
        *_ingress_adapters(res),
    ]


@dataclass(frozen=True)
class Stream:
    """The demo's simulated stream of the national mix (``meldingshub run`` on a terminal)."""

    rate: float
    fault_rate: float
    receivers: bool = True
    """Simulated receivers take what is delivered (only where the store and outbox are the
    demo's own: :func:`meldingshub.simulator.receivers.owns_its_data`)."""


def _stream(res: Resources, stream: Stream, others: list[Component]) -> Component:
    """Starts once every other component and resource check is ready (or after a while)."""

    def hub_ready() -> bool:
        return all(c.ready() for c in others) and all(check() for check in res.checks.values())

    return SimulatedStream(
        res.settings,
        res.bootstrap_servers,
        hub_ready,
        rate=stream.rate,
        fault_rate=stream.fault_rate,
    )


def _receivers(res: Resources) -> Component:
    """The demo's receivers, which take what the hub delivers to them."""
    return SimulatedReceivers(res.settings, res.bootstrap_servers, res.mailbox)


BUILDERS: dict[str, Callable[[Resources], list[Component]]] = {
    "ingress-http": _ingress_http,
    "router": lambda res: [_router(res)],
    "delivery": lambda res: [_delivery(res)],
    "aggregator": lambda res: [_aggregator(res)],
    "register-api": _register_api,
}
"""Component name -> builder; each runs alone as ``meldingshub run <name>``."""


def component_factory(
    settings: Settings,
    names: Sequence[str],
    registry: CollectorRegistry,
    stream: Stream | None = None,
) -> Callable[[str], Assembly]:
    """A factory for :class:`meldingshub.app.Hub` building ``names`` (everything when empty),
    with the simulated ``stream`` beside them when given."""
    unknown = sorted(set(names) - BUILDERS.keys())
    if unknown:
        raise UnknownComponentError(
            f"unknown component {', '.join(unknown)}; choose from {', '.join(BUILDERS)}"
        )

    def build(bootstrap_servers: str) -> Assembly:
        res = Resources(settings, bootstrap_servers, registry)
        builders = [BUILDERS[name] for name in names] if names else [_all_in_one]
        components = [component for builder in builders for component in builder(res)]
        if stream is not None:
            components.append(_stream(res, stream, list(components)))
            if stream.receivers:
                components.append(_receivers(res))
        return Assembly(
            components, dict(res.checks), res.close, dict(res.adapters), res.broker_restarted
        )

    return build
