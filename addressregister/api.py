"""The look-up API: parties by HER-id, search with paging, and resolution, over HTTP.

Mount :func:`create_router` in a larger app, or serve :func:`create_app` alone.
Errors are RFC 9457 problem details (:mod:`hubcore.problems`); a failed
resolution is a problem too, carrying its AppRec code. Handlers build their JSON
directly (the response models document it in OpenAPI without validating every
answer again, which halves the throughput). Every look-up is counted
per information service (organisation, service, person) and outcome.
"""

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from addressregister.index import RegisterIndex
from addressregister.live import RegisterView
from addressregister.model import CommunicationParty, PartyKind
from addressregister.records import party_to_record
from addressregister.resolution import resolve_receiver
from addressregister.results import LookupProblem, ResolutionFailure
from addressregister.validation import MAX_HER_ID
from hubcore.problems import PROBLEM_JSON, ProblemError, install_problem_handlers, problem_route
from metrics.register import LookupOutcome, RegisterMetrics
from schemas.identifiers import STRICT_HER_ID
from schemas.parties import PartyRef
from schemas.vocabulary import AddressingMode, AppRecErrorCode, Category

API_VERSION = "1.0.0"


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EndpointOut(_Camel):
    """Where messages for a party are delivered."""

    kind: str = Field(description="amqp, mailbox, webhook, kafka or file")
    address: str


class PartyOut(_Camel):
    """A communication party as the register holds it, with what the hub derives from it."""

    her_id: int
    kind: PartyKind
    name: str
    parent_her_id: int | None = None
    organisation_number: str | None = None
    municipality: str | None = None
    business_type: str | None = None
    service_code: str | None = None
    service_code_list: str | None = None
    hpr_number: str | None = None
    active: bool
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    receives: dict[str, list[str]] = Field(
        default_factory=dict, description="Message types it receives; [] means every version."
    )
    sends: dict[str, list[str]] = Field(default_factory=dict)
    endpoint: EndpointOut | None = None
    certificate_thumbprints: list[str] = Field(default_factory=list)
    category: Category = Field(description="Statistics category (derived)")
    organisation_her_id: int = Field(description="Top-level organisation of the party")
    receiving_her_id: int | None = Field(
        description="The party that receives for this one (nearest with an endpoint)"
    )


class SearchPageOut(_Camel):
    """One page of a search, ordered by HER-id."""

    items: list[PartyOut]
    page: int
    page_size: int
    total: int


class ResolutionOut(_Camel):
    """Who receives a message and how it was addressed."""

    receiver_her_id: int
    organisation_her_id: int
    addressed_her_id: int
    addressing_mode: AddressingMode
    category: Category
    endpoint: EndpointOut


class ProblemDetails(_Camel):
    """RFC 9457 problem details; resolution failures add ``apprecCode`` and ``problem``."""

    model_config = ConfigDict(extra="allow", alias_generator=to_camel, populate_by_name=True)

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    apprec_code: AppRecErrorCode | None = None
    problem: LookupProblem | None = None


def _problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {status: {"model": ProblemDetails, "content": {PROBLEM_JSON: {}}} for status in statuses}


HerIdPath = Annotated[
    int, Path(alias="herId", ge=1, le=MAX_HER_ID, description="HER-id"), STRICT_HER_ID
]


def create_router(
    register: RegisterView, metrics: RegisterMetrics | None = None, *, page_size_max: int = 500
) -> APIRouter:
    """The ``/v1`` look-up routes over ``register`` (its current snapshot per request)."""

    def count(service: AddressingMode, outcome: LookupOutcome) -> None:
        if metrics is not None:
            metrics.lookup(service, outcome)

    def invalid(_request: Request) -> None:
        count(AddressingMode.ORGANISATION, LookupOutcome.INVALID)

    router = APIRouter(
        prefix="/v1", tags=["address register"], route_class=problem_route(on_invalid=invalid)
    )

    def index() -> RegisterIndex:
        if not register.loaded.is_set():
            raise ProblemError(
                503,
                "register-not-loaded",
                "Register not loaded",
                "the register is still being read; retry shortly",
            )
        return register.snapshot()

    @router.get(
        "/parties/{herId}",
        response_model=PartyOut,
        response_model_exclude_none=True,
        summary="Look up a party by HER-id",
        responses=_problem_responses(400, 404, 503),
    )
    def get_party(her_id: HerIdPath) -> JSONResponse:
        snapshot = index()
        party = snapshot.get(her_id)
        if party is None:
            count(AddressingMode.ORGANISATION, LookupOutcome.NOT_FOUND)
            raise ProblemError(
                404, "unknown-party", "Unknown party", f"HER-id {her_id} is not in the register"
            )
        count(_service_of(party.kind), LookupOutcome.FOUND)
        return JSONResponse(_party_out(snapshot, party))

    @router.get(
        "/parties",
        response_model=SearchPageOut,
        response_model_exclude_none=True,
        summary="Search parties",
        responses=_problem_responses(400, 503),
    )
    def search(
        name: Annotated[
            str | None, Query(min_length=2, max_length=100, description="Part of the name")
        ] = None,
        organisation_number: Annotated[
            str | None, Query(alias="organisationNumber", pattern=r"^[0-9]{9}$")
        ] = None,
        municipality: Annotated[str | None, Query(pattern=r"^[0-9]{4}$")] = None,
        business_type: Annotated[
            str | None, Query(alias="businessType", pattern=r"^[0-9]{3}$")
        ] = None,
        service_code: Annotated[str | None, Query(alias="serviceCode", max_length=10)] = None,
        kind: PartyKind | None = None,
        category: Category | None = None,
        active: bool | None = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(alias="pageSize", ge=1)] = 50,
    ) -> JSONResponse:
        snapshot = index()
        size = min(page_size, page_size_max)
        result = snapshot.search(
            name=name,
            organisation_number=organisation_number,
            municipality=municipality,
            business_type=business_type,
            service_code=service_code,
            kind=kind,
            category=category,
            active=active,
            offset=(page - 1) * size,
            limit=size,
        )
        if kind is PartyKind.PERSON:
            service = AddressingMode.PERSON
        elif kind in (PartyKind.SERVICE, PartyKind.DEPARTMENT) or service_code is not None:
            service = AddressingMode.SERVICE
        else:
            service = AddressingMode.ORGANISATION
        count(service, LookupOutcome.FOUND if result.total else LookupOutcome.NOT_FOUND)
        return JSONResponse(
            {
                "items": [_party_out(snapshot, p) for p in result.items],
                "page": page,
                "pageSize": size,
                "total": result.total,
            }
        )

    @router.get(
        "/resolve",
        response_model=ResolutionOut,
        summary="Resolve the receiver of a message",
        description=(
            "Level 1 is the organisation, level 2 a service/department or a person under it. "
            "A failure is a problem document with the AppRec error code (kodeverk 8221) the "
            "sender would get: 404 for E20/E21, 422 otherwise."
        ),
        responses=_problem_responses(400, 404, 422, 503),
    )
    def resolve(
        message_type: Annotated[str, Query(alias="messageType", pattern=r"^[A-Z][A-Z0-9_]{0,63}$")],
        organisation_her_id: Annotated[
            int | None, Query(alias="organisationHerId", ge=1, le=MAX_HER_ID), STRICT_HER_ID
        ] = None,
        service_her_id: Annotated[
            int | None, Query(alias="serviceHerId", ge=1, le=MAX_HER_ID), STRICT_HER_ID
        ] = None,
        person_her_id: Annotated[
            int | None, Query(alias="personHerId", ge=1, le=MAX_HER_ID), STRICT_HER_ID
        ] = None,
        organisation_number: Annotated[
            str | None, Query(alias="organisationNumber", pattern=r"^[0-9]{9}$")
        ] = None,
        version: Annotated[str | None, Query(max_length=40)] = None,
        at: Annotated[
            datetime | None, Query(description="Moment to resolve at (default: now, UTC)")
        ] = None,
    ) -> JSONResponse:
        snapshot = index()
        ref = PartyRef(organisation_her_id, service_her_id, person_her_id, organisation_number)
        service = (
            AddressingMode.PERSON
            if person_her_id is not None
            else AddressingMode.SERVICE
            if service_her_id is not None
            else AddressingMode.ORGANISATION
        )
        moment = at if at is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        outcome = resolve_receiver(snapshot, ref, message_type, version, moment)
        if isinstance(outcome, ResolutionFailure):
            unknown = outcome.code in (
                AppRecErrorCode.E20,
                AppRecErrorCode.E21,
            ) and outcome.problem in (
                LookupProblem.UNKNOWN_PARTY,
                LookupProblem.UNKNOWN_PERSON,
                LookupProblem.NO_IDENTIFIER,
            )
            count(service, LookupOutcome.NOT_FOUND if unknown else LookupOutcome.REJECTED)
            raise ProblemError(
                404 if outcome.code in (AppRecErrorCode.E20, AppRecErrorCode.E21) else 422,
                "resolution-failed",
                "The receiver cannot be resolved",
                outcome.reason,
                apprecCode=outcome.code.value,
                problem=outcome.problem.value,
            )
        count(service, LookupOutcome.FOUND)
        return JSONResponse(
            {
                "receiverHerId": outcome.receiver_her_id,
                "organisationHerId": outcome.organisation_her_id,
                "addressedHerId": outcome.addressed_her_id,
                "addressingMode": outcome.addressing_mode.value,
                "category": outcome.category.value,
                "endpoint": {
                    "kind": outcome.endpoint.kind.value,
                    "address": outcome.endpoint.address,
                },
            }
        )

    return router


def create_app(
    register: RegisterView, metrics: RegisterMetrics | None = None, *, page_size_max: int = 500
) -> FastAPI:
    """A stand-alone look-up app: the ``/v1`` routes, ``/livez`` and problem details."""
    app = FastAPI(
        title="meldingshub address register",
        version=API_VERSION,
        description=(
            "Look-ups in the hub's address register: parties by HER-id, search, and the "
            "resolution the router makes. Errors are RFC 9457 problem details."
        ),
    )
    app.include_router(create_router(register, metrics, page_size_max=page_size_max))
    install_problem_handlers(app)

    @app.get("/livez", summary="Process health", tags=["operations"])
    def livez() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _service_of(kind: PartyKind) -> AddressingMode:
    if kind is PartyKind.PERSON:
        return AddressingMode.PERSON
    if kind is PartyKind.ORGANISATION:
        return AddressingMode.ORGANISATION
    return AddressingMode.SERVICE


def _party_out(snapshot: RegisterIndex, party: CommunicationParty) -> dict[str, Any]:
    record = party_to_record(party, with_category=True)
    record["organisationHerId"] = snapshot.organisation_of(party.her_id)
    receiver = snapshot.receiving_party(party.her_id)
    record["receivingHerId"] = receiver.her_id if receiver is not None else None
    return record
