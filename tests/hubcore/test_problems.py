"""Every API answers errors as RFC 9457 problem details, whichever app mounts its router."""

from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.testclient import TestClient

from hubcore.problems import (
    PROBLEM_JSON,
    Problem,
    ProblemError,
    install_problem_handlers,
    problem_responses,
    problem_route,
)


def _app(invalid: list[str]) -> FastAPI:
    router = APIRouter(route_class=problem_route(lambda request: invalid.append(request.url.path)))

    @router.get("/things/{number}")
    def thing(number: int, limit: Annotated[int, Query(ge=1)] = 1) -> dict[str, int]:
        if number == 7:
            raise ProblemError(
                503, "busy", "try again", "the hub is busy", {"Retry-After": "5"}, code="X99"
            )
        return {"number": number}

    other = APIRouter()  # a router without the problem route: its app still answers 404s

    @other.get("/plain")
    def plain(request: Request) -> dict[str, str]:
        return {"path": request.url.path}

    app = FastAPI()
    app.include_router(router)
    app.include_router(other)
    install_problem_handlers(app)
    return app


def test_a_problem_error_keeps_its_type_headers_and_extensions() -> None:
    client = TestClient(_app([]))
    response = client.get("/things/7")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["retry-after"] == "5"
    assert response.json() == {
        "type": "urn:meldingshub:problem:busy",
        "title": "try again",
        "status": 503,
        "detail": "the hub is busy",
        "instance": "/things/7",
        "code": "X99",
    }


def test_invalid_requests_are_400_problems_and_counted_by_their_api() -> None:
    invalid: list[str] = []
    client = TestClient(_app(invalid))
    response = client.get("/things/seven?limit=0")
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "urn:meldingshub:problem:invalid-request"
    assert "number" in body["detail"] and "limit" in body["detail"]
    assert invalid == ["/things/seven"]


def test_what_no_route_answers_is_a_problem_too() -> None:
    client = TestClient(_app([]))
    missing = client.get("/nowhere")
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM_JSON)
    assert missing.json()["type"] == "urn:meldingshub:problem:not-found"
    wrong = client.post("/plain")
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "urn:meldingshub:problem:method-not-allowed"


def test_openapi_responses_name_the_problem_schema() -> None:
    responses = problem_responses(400, 503, texts={503: "busy"})
    assert responses[503]["description"] == "busy"
    assert responses[400]["content"][PROBLEM_JSON]["schema"] == Problem.model_json_schema()
