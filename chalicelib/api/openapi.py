"""The OpenAPI 3.1 document, generated from the routes' contracts and pydantic models.

:func:`build_document` builds it from route specs; :mod:`chalicelib.api.blueprints` gives it every route
(``python -m chalicelib.api.blueprints`` prints it; docs/openapi.json is that output, and a test fails when
the two drift apart).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.routing import RouteSpec
from chalicelib.api.schemas import Problem

TITLE = "Abo API"
VERSION = "1"
_PATH_PARAMETER = re.compile(r"{(\w+)}")
_PROBLEM_TITLES = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Validation error",
    428: "Idempotency-Key required",
    500: "Internal error",
    503: "Unavailable",
}


def _models(specs: list[RouteSpec]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"Problem": Problem}
    for spec in specs:
        for model in (spec.body, spec.response, spec.query):
            if model is not None:
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _query_parameters(model: type[BaseModel], definitions: dict[str, Any]) -> list[dict[str, Any]]:
    schema = definitions[model.__name__]
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(spec: RouteSpec, definitions: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": spec.operation_id,
        "summary": spec.summary,
        "tags": [spec.tag],
    }
    parameters = _parameters(spec, definitions)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{spec.body.__name__}"}}
            },
        }
    if spec.auth == "admin":
        operation["security"] = [{"bearer": []}]
    operation["responses"] = _responses(spec)
    return operation


def _parameters(spec: RouteSpec, definitions: dict[str, Any]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAMETER.findall(spec.path)
    ]
    if spec.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "description": (
                    "Required: this route creates something. Send a fresh key (e.g. a UUID) per request "
                    "and the same key when retrying it; a replay with the same key and body returns the "
                    "first response, the same key with another body is 409."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
            }
        )
    if spec.query is not None:
        parameters.extend(_query_parameters(spec.query, definitions))
    return parameters


def _responses(spec: RouteSpec) -> dict[str, Any]:
    """The success response, then every problem the route can answer (the edge's own among them)."""
    success: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {
            spec.response_media_type: {"schema": {"$ref": f"#/components/schemas/{spec.response.__name__}"}}
        }
    elif spec.response_media_type != "application/json":
        success["content"] = {spec.response_media_type: {"schema": {"type": "string", "format": "binary"}}}
    else:
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    problems = set(spec.problems) | {500}
    if spec.auth == "admin":
        problems |= {401, 403}
    if spec.body is not None:
        problems |= {400, 415, 422}
    if spec.query is not None or spec.idempotent:
        problems |= {422}
    if spec.idempotent:
        problems |= {409, 428}
    responses: dict[str, Any] = {str(spec.status): success}
    for status in sorted(problems):
        responses[str(status)] = {
            "description": _PROBLEM_TITLES.get(status, "Problem"),
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return responses


def build_document(specs: list[RouteSpec]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``specs``."""
    _, schemas = models_json_schema(
        [(model, "validation" if _is_input(model, specs) else "serialization") for model in _models(specs)],
        ref_template="#/components/schemas/{model}",
    )
    definitions: dict[str, Any] = schemas.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for spec in sorted(specs, key=lambda s: (s.path, s.method)):
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, definitions)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Subscription billing for Nordic businesses. Money is integer minor units.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _is_input(model: type[BaseModel], specs: list[RouteSpec]) -> bool:
    return any(model is spec.body or model is spec.query for spec in specs)
