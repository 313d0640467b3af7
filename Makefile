# Abo: the two commands are `make run` and `make test`. Everything installs itself into .venv.
PYTHON ?= python3.11
VENV := .venv
# Two workers by default (CI has two cores); whole files stay on one worker (module-scoped stacks).
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=25
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint typecheck pytest package bench openapi events-doc clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## Start the whole platform locally: moto, tables/bucket/queues from template.yaml, API, scheduler, drop folder.
run: $(STAMP)
	$(BIN)/python -m infra.local

## Lint, type-check and run every test layer.
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
# the import contracts of pyproject.toml (docs/architecture.md, "Import contracts")
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

## Build the deployable template (Chalice API merged with template.yaml) into build/package and lint it.
package: $(STAMP)
	$(BIN)/python -m infra.package build/package

## Print performance figures: cold-start import times, AWS requests per operation.
bench: $(STAMP)
	$(BIN)/python -m bench

## Regenerate docs/openapi.json from the code (a test fails when it drifts).
openapi: $(STAMP)
	$(BIN)/python -m chalicelib.api.blueprints > docs/openapi.json

## Regenerate the event catalogue in docs/events.md from chalicelib/events/catalogue.py (a test fails when it drifts).
events-doc: $(STAMP)
	$(BIN)/python -m chalicelib.events.reference docs/events.md

clean:
	rm -rf build .mypy_cache .ruff_cache
