"""The look-up API through a real uvicorn server: look-ups, search, resolve, problem details,
metrics, and the committed OpenAPI document."""

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from addressregister.api import create_app
from addressregister.index import RegisterIndex
from addressregister.live import StaticRegister
from metrics.register import LookupOutcome, RegisterMetrics
from schemas.vocabulary import AddressingMode
from tests.addressregister import support as s
from tests.support.http import serve

OPENAPI_FILE = Path(__file__).resolve().parents[2] / "meldingshub" / "openapi.json"


class Api:
    def __init__(self, client: httpx.Client, registry: CollectorRegistry) -> None:
        self.client = client
        self.registry = registry

    def lookups(self, service: str, outcome: LookupOutcome) -> float:
        value = self.registry.get_sample_value(
            "meldingshub_register_lookups_total", {"service": service, "outcome": outcome.value}
        )
        assert value is not None
        return value


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    registry = CollectorRegistry()
    app = create_app(StaticRegister(s.small_index()), RegisterMetrics(registry), page_size_max=3)
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield Api(client, registry)


def problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("urn:meldingshub:problem:")
    assert body["title"]
    return body


def test_get_party_by_her_id(api: Api) -> None:
    before = api.lookups("person", LookupOutcome.FOUND)
    response = api.client.get(f"/v1/parties/{s.GP}")
    assert response.status_code == 200
    body = response.json()
    assert body["herId"] == s.GP
    assert body["kind"] == "person"
    assert body["category"] == "fastlege"
    assert body["organisationHerId"] == s.PRACTICE
    assert body["receivingHerId"] == s.PRACTICE
    assert api.lookups("person", LookupOutcome.FOUND) == before + 1


def test_unknown_and_malformed_her_ids_are_problems(api: Api) -> None:
    before = api.lookups("organisation", LookupOutcome.NOT_FOUND)
    body = problem(api.client.get("/v1/parties/4242"), 404)
    assert body["instance"] == "/v1/parties/4242"
    assert "4242" in str(body["detail"])
    assert api.lookups("organisation", LookupOutcome.NOT_FOUND) == before + 1
    invalid = api.lookups("organisation", LookupOutcome.INVALID)
    assert "herId" in str(problem(api.client.get("/v1/parties/abc"), 400)["detail"])
    problem(api.client.get("/v1/parties/0"), 400)
    assert api.lookups("organisation", LookupOutcome.INVALID) == invalid + 2
    problem(api.client.get("/v2/nothing"), 404)


def test_search_pages_through_results(api: Api) -> None:
    first = api.client.get("/v1/parties", params={"kind": "person", "pageSize": 2})
    assert first.status_code == 200
    body = first.json()
    assert (body["total"], body["page"], body["pageSize"]) == (5, 1, 2)
    assert [p["herId"] for p in body["items"]] == [s.GP, s.GP_INACTIVE]
    third = api.client.get("/v1/parties", params={"kind": "person", "pageSize": 2, "page": 3})
    assert [p["herId"] for p in third.json()["items"]] == [s.GP_IN_CLOSED_PRACTICE]
    capped = api.client.get("/v1/parties", params={"pageSize": 100}).json()
    assert capped["pageSize"] == 3 and len(capped["items"]) == 3


def test_search_by_each_criterion(api: Api) -> None:
    def her_ids(**params: str) -> list[int]:
        response = api.client.get("/v1/parties", params=params)
        assert response.status_code == 200, response.text
        return [p["herId"] for p in response.json()["items"]]

    assert her_ids(organisationNumber="915933149") == [s.RF]
    assert her_ids(name="organisation 60") == [s.PHARMACY]
    assert her_ids(businessType="108") == [s.PHARMACY]
    assert her_ids(municipality="4601", category="kommune") == [s.KOMMUNE, s.NO_ENDPOINT_ORG]
    before = api.lookups("service", LookupOutcome.NOT_FOUND)
    assert her_ids(serviceCode="99") == []
    assert api.lookups("service", LookupOutcome.NOT_FOUND) == before + 1
    problem(api.client.get("/v1/parties", params={"organisationNumber": "12"}), 400)


def test_resolve_success(api: Api) -> None:
    before = api.lookups("service", LookupOutcome.FOUND)
    response = api.client.get(
        "/v1/resolve",
        params={
            "organisationHerId": s.KOMMUNE,
            "serviceHerId": s.HOME_CARE,
            "messageType": "LOG_INNLAGT",
            "version": "v1.6 2012-04-01",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "receiverHerId": s.HOME_CARE,
        "organisationHerId": s.KOMMUNE,
        "addressedHerId": s.HOME_CARE,
        "addressingMode": "service",
        "category": "kommune",
        "endpoint": {"kind": "mailbox", "address": "mb-201"},
    }
    assert api.lookups("service", LookupOutcome.FOUND) == before + 1


@pytest.mark.parametrize(
    ("params", "status", "code", "outcome", "service"),
    [
        ({"organisationHerId": 4242}, 404, "E21", LookupOutcome.NOT_FOUND, "organisation"),
        (
            {"organisationHerId": s.PRACTICE, "personHerId": 9999},
            404,
            "E20",
            LookupOutcome.NOT_FOUND,
            "person",
        ),
        (
            {"organisationHerId": s.PRACTICE, "personHerId": s.GP_INACTIVE},
            404,
            "E20",
            LookupOutcome.REJECTED,
            "person",
        ),
        ({"organisationHerId": s.PHARMACY}, 422, "T10", LookupOutcome.REJECTED, "organisation"),
        (
            {"organisationHerId": s.NO_ENDPOINT_ORG, "serviceHerId": s.NO_ENDPOINT_SERVICE},
            422,
            "X99",
            LookupOutcome.REJECTED,
            "service",
        ),
    ],
)
def test_resolve_failures_carry_the_apprec_code(
    api: Api,
    params: dict[str, int],
    status: int,
    code: str,
    outcome: LookupOutcome,
    service: str,
) -> None:
    before = api.lookups(service, outcome)
    response = api.client.get("/v1/resolve", params={**params, "messageType": "DIALOG_NOTAT"})
    body = problem(response, status)
    assert body["apprecCode"] == code
    assert body["problem"]
    assert api.lookups(service, outcome) == before + 1


def test_resolve_at_a_moment(api: Api) -> None:
    params: dict[str, str | int] = {
        "organisationHerId": s.PRACTICE,
        "personHerId": s.GP_RETIRED,
        "messageType": "DIALOG_NOTAT",
    }
    assert api.client.get("/v1/resolve", params=params).status_code == 404
    earlier = {**params, "at": "2019-05-01T10:00:00+02:00"}
    assert api.client.get("/v1/resolve", params=earlier).status_code == 200


def test_resolve_needs_a_message_type(api: Api) -> None:
    body = problem(api.client.get("/v1/resolve", params={"organisationHerId": s.RF}), 400)
    assert "messageType" in str(body["detail"])


def test_not_loaded_register_answers_503() -> None:
    class Loading:
        loaded = threading.Event()

        def snapshot(self) -> RegisterIndex:
            return RegisterIndex.empty()

        def usable(self) -> bool:
            return False

    with serve(create_app(Loading())) as url:
        response = httpx.get(f"{url}/v1/parties/{s.RF}")
        problem(response, 503)
        assert httpx.get(f"{url}/livez").json() == {"status": "ok"}


def test_every_label_combination_is_pre_initialised() -> None:
    registry = CollectorRegistry()
    RegisterMetrics(registry)
    for service in ("organisation", "service", "person"):
        for outcome in LookupOutcome:
            labels = {"service": service, "outcome": outcome.value}
            assert registry.get_sample_value("meldingshub_register_lookups_total", labels) == 0


def test_committed_openapi_matches_the_app(api: Api) -> None:
    """The stand-alone look-up app serves the same routes as the hub's one document
    (which adds the operator's bearer token to each)."""
    committed = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    served = api.client.get("/openapi.json").json()
    lookups = {path: item for path, item in served["paths"].items() if path.startswith("/v1/")}
    assert lookups
    for path, item in lookups.items():
        for method, operation in item.items():
            hub = dict(committed["paths"][path][method])
            assert hub.pop("security") == [{"bearerToken": []}]
            auth = ("401", "403")
            hub["responses"] = {k: v for k, v in hub["responses"].items() if k not in auth}
            assert hub == operation, (path, method)
    problems = committed["paths"]["/v1/resolve"]["get"]["responses"]["422"]["content"]
    assert "application/problem+json" in problems


def test_metrics_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) is not installed")
    registry = CollectorRegistry()
    metrics = RegisterMetrics(registry)
    metrics.lookup(AddressingMode.PERSON, LookupOutcome.FOUND)
    metrics.snapshot(s.small_index().counts_by_category())
    checked = subprocess.run(
        [promtool, "check", "metrics"],
        input=generate_latest(registry),
        capture_output=True,
        check=False,
        timeout=30,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert registry.get_sample_value("meldingshub_register_parties", {"category": "apotek"}) == 1
