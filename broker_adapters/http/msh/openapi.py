"""The MSH API's part of the hub's OpenAPI document (``meldingshub/openapi.json``).

FastAPI documents what it parses itself; the MSH routes read their JSON bodies
themselves (``text/json`` too, with a size cap), so :func:`complete` adds the
request schemas and drops the 422 FastAPI assumes (these routes answer 400).
:func:`install` makes an application serve the completed document.

A test holds the served paths, parameters and schemas to NHN's description.
"""

import json
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from broker_adapters.http.msh.models import PostAppRecRequest, PostMessageRequest

_BODIES: tuple[type[BaseModel], ...] = (PostMessageRequest, PostAppRecRequest)
_PATHS = "/Messages"


def complete(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with the MSH request schemas in its components and no 422 on MSH paths."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in _BODIES:
        schema = model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}", mode="validation"
        )
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for path, operations in document.get("paths", {}).items():
        if path == _PATHS or path.startswith(_PATHS + "/"):
            for operation in operations.values():
                operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's, if nothing else uses them
        text = json.dumps({k: v for k, v in document.items() if k != "components"})
        others = json.dumps({k: v for k, v in schemas.items() if k != name})
        if f"#/components/schemas/{name}" not in text + others:
            schemas.pop(name, None)
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document as the application's ``/openapi.json``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
