"""The event catalogue's documentation: docs/events.md and the OpenAPI document show the schemas the
catalogue generates, one per event type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chalicelib.api.blueprints import cached_document
from chalicelib.events import EventType
from chalicelib.events.catalogue import DATA_MODELS, data_schemas
from chalicelib.events.reference import BEGIN, END, catalogue_markdown, main, replace_generated

pytestmark = pytest.mark.contract

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_every_event_type_has_a_data_model() -> None:
    assert set(DATA_MODELS) == set(EventType)


def test_docs_events_md_shows_the_catalogue_s_schemas() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert text == replace_generated(text), "docs/events.md is stale: run make events-doc"
    generated = text[text.index(BEGIN) : text.index(END)]
    for type_ in EventType:
        assert f"### `{type_.value}`" in generated


def test_the_generated_part_holds_each_schema_as_json() -> None:
    blocks = re.findall(r"### `([^`]+)`\n\n.*?```json\n(.*?)\n```", catalogue_markdown(), re.DOTALL)
    assert {type_: json.loads(schema) for type_, schema in blocks} == data_schemas()


def test_a_changed_schema_makes_the_document_stale(tmp_path: Path) -> None:
    stale = tmp_path / "events.md"
    text = DOC.read_text(encoding="utf-8")
    stale.write_text(text.replace('"title": "Order Id"', '"title": "Order"', 1), encoding="utf-8")
    assert main(["--check", str(stale)]) == 1
    assert main([str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == text
    assert main(["--check", str(stale)]) == 0


def test_the_openapi_document_has_one_event_variant_per_type_with_the_catalogue_s_data() -> None:
    schemas = cached_document()["components"]["schemas"]
    items = schemas["EventList"]["properties"]["items"]["items"]
    mapping = items["discriminator"]["mapping"]
    assert set(mapping) == {type_.value for type_ in EventType}
    for type_, model in DATA_MODELS.items():
        variant = schemas[mapping[type_.value].rsplit("/", 1)[-1]]
        assert variant["properties"]["type"]["const"] == type_.value
        assert variant["properties"]["data"] == {"$ref": f"#/components/schemas/{model.__name__}"}
        # The same properties, nested models referred to among the components instead of in $defs.
        catalogue = json.loads(
            json.dumps(data_schemas()[type_.value]).replace("#/$defs/", "#/components/schemas/")
        )
        assert schemas[model.__name__]["properties"] == catalogue["properties"]
