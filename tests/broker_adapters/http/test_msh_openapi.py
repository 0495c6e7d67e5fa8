"""The MSH routes in the hub's OpenAPI document hold to NHN's description."""

import json
from typing import Any

import pytest

from meldingshub.openapi import COMMITTED
from tests.support.shared import SHARED

NHN = SHARED / "nhn" / "msh-api-v2.json"


@pytest.fixture(scope="module")
def nhn() -> dict[str, Any]:
    if not NHN.is_file():
        pytest.skip(f"NHN's description not found at {NHN}")
    document: dict[str, Any] = json.loads(NHN.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def ours() -> dict[str, Any]:
    """The hub's one committed document (equal to what it serves: see the ingress tests)."""
    document: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return document


def test_every_operation_has_nhn_path_parameters_and_statuses(
    nhn: dict[str, Any], ours: dict[str, Any]
) -> None:
    for path, operations in nhn["paths"].items():
        for method, theirs in operations.items():
            mine = ours["paths"][path][method]
            assert mine["operationId"] == theirs["operationId"]

            def params(op: dict[str, Any]) -> set[tuple[str, str, bool]]:
                return {(p["name"], p["in"], p.get("required", False)) for p in op["parameters"]}

            assert params(mine) == params(theirs), (method, path)
            assert set(theirs["responses"]) <= set(mine["responses"]), (method, path)
            assert "422" not in mine["responses"]
            if "requestBody" in theirs:
                assert set(mine["requestBody"]["content"]) == set(theirs["requestBody"]["content"])


def test_every_schema_has_nhn_fields(nhn: dict[str, Any], ours: dict[str, Any]) -> None:
    mine = ours["components"]["schemas"]
    for name, theirs in nhn["components"]["schemas"].items():
        assert name in mine, name
        assert set(mine[name].get("properties", {})) == set(theirs.get("properties", {})), name
        assert set(mine[name].get("required", [])) == set(theirs.get("required", [])), name
        assert mine[name].get("enum") == theirs.get("enum"), name
