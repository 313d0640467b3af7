"""The OpenAPI document is generated from the code; the committed copy must not drift."""

from __future__ import annotations

import json
from pathlib import Path

from chalice.test import Client

from app import app
from chalicelib.api.blueprints import all_specs, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_document_matches_the_code() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "run `make openapi` and commit docs/openapi.json"
    )


def test_every_route_of_the_app_is_described() -> None:
    document = json.loads(render())
    described = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    served = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert described == served
    assert len(all_specs()) == len(served)


def test_every_operation_documents_problems_and_schemas_resolve() -> None:
    document = json.loads(render())
    schemas = document["components"]["schemas"]
    text = json.dumps(document)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schemas, ref
    for item in document["paths"].values():
        for operation in item.values():
            assert "500" in operation["responses"]
            if operation.get("security"):
                assert "401" in operation["responses"]


def test_served_document_is_the_committed_one(api: Client) -> None:
    response = api.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.json_body == json.loads(COMMITTED.read_text(encoding="utf-8"))
