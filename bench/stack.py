"""The platform in process against moto, and the operations that the AWS-request and latency
benchmarks measure on it.

An operation is registered with :func:`operation`: a ``prepare`` function that sets up a fresh
:class:`Deployment` (not measured) and returns the action, called with the run's index (0, 1, 2, …)
so that each run can use its own keys or dates. The action must read ``deployment.services`` (or
:func:`~chalicelib.container.get_services`) on every call: the container is replaced after ``prepare``
so that run 0 meets a fresh container, as the first request of a new Lambda instance does.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalice.test import Client

from app import app
from bench import BenchContext
from chalicelib.container import Services, set_services
from chalicelib.settings import Settings
from infra.awscalls import count_aws_requests
from infra.local.resources import LocalResources
from tests.support.aws import REGION, fresh_resources, moto_server

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "bench-admin-token"
CLOCK_START = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}

Action = Callable[[int], object]


@dataclass
class Deployment:
    """A fresh set of the template's resources, the services bound to them and the API's client."""

    resources: LocalResources
    settings: Settings
    services: Services
    api: Client

    def restart(self) -> None:
        """Replace the container, as a new Lambda instance would start with none built."""
        self.services = Services(self.settings)
        set_services(self.services)


@dataclass(frozen=True)
class Operation:
    """Something measured: its name, how to set it up, how many timed runs, an optional goal."""

    name: str
    prepare: Callable[[Deployment], Action]
    runs: int
    goal_ms: float | None
    order: int


OPERATIONS: dict[str, Operation] = {}


def operation(
    name: str, *, runs: int = 15, goal_ms: float | None = None, order: int = 100
) -> Callable[[Callable[[Deployment], Action]], Callable[[Deployment], Action]]:
    """Register an operation for the AWS-request and latency tables; lower ``order`` is listed first."""

    def register(prepare: Callable[[Deployment], Action]) -> Callable[[Deployment], Action]:
        OPERATIONS[name] = Operation(name, prepare, runs, goal_ms, order)
        return prepare

    return register


def settings_for(resources: LocalResources) -> Settings:
    """Settings pointing at ``resources``, with a frozen test clock (as the tests' make_settings)."""
    # From the ABO_* variables the local stack sets, so that a resource added there reaches the bench.
    located = {
        name.removeprefix("ABO_").lower(): value for name, value in resources.settings_environment().items()
    }
    return Settings.model_validate(
        {
            **located,
            "stage": "test",
            "region": REGION,
            "admin_token": ADMIN_TOKEN,
            "clock_start": CLOCK_START,
            "clock_frozen": True,
            "template_path": str(ROOT / "template.yaml"),
        }
    )


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in [*values, "AWS_PROFILE"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Stack:
    """One moto server for the whole bench run; :meth:`fresh` resets it for each operation."""

    def __init__(self, context: BenchContext) -> None:
        if context.endpoint is None:
            self.endpoint = context.resources.enter_context(moto_server())
            context.resources.enter_context(
                _environment(
                    {
                        "AWS_ENDPOINT_URL": self.endpoint,
                        "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION,
                        "AWS_REGION": REGION,
                    }
                )
            )
        else:
            self.endpoint = context.endpoint
        context.resources.enter_context(_quiet_logs())
        context.resources.callback(set_services, None)

    def fresh(self) -> Deployment:
        """Empty moto, create the template's resources, and bind new services and an API client."""
        cwd = os.getcwd()
        os.chdir(ROOT)  # fresh_resources reads template.yaml relative to the working directory
        try:
            resources = fresh_resources(self.endpoint)
        finally:
            os.chdir(cwd)
        settings = settings_for(resources)
        services = Services(settings)
        set_services(services)
        return Deployment(resources, settings, services, Client(app, project_dir=str(ROOT)))


@contextmanager
def _quiet_logs() -> Iterator[None]:
    # The handlers log each event at INFO to stdout, and moto's server each request to stderr;
    # both would bury the tables.
    from chalicelib.observability import logger

    werkzeug = logging.getLogger("werkzeug")
    levels = (logger.log_level, werkzeug.level)
    logger.setLevel(logging.WARNING)
    werkzeug.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(levels[0])
        werkzeug.setLevel(levels[1])


def stack(context: BenchContext) -> Stack:
    """The context's stack, started on first use."""
    return context.shared("stack", Stack)


@dataclass(frozen=True)
class Figures:
    """What one operation measured: calls of the first and of a warm run, and timings."""

    operation: Operation
    first_calls: Counter[str]
    warm_calls: Counter[str]
    first_ms: float
    timings_ms: list[float]


def measure(context: BenchContext, measured: Operation) -> Figures:
    """Run ``measured`` on a fresh deployment: counted run 0 (fresh container) and run 1 (warm),
    then the timed runs, which are not counted."""
    deployment = stack(context).fresh()
    action = measured.prepare(deployment)
    deployment.restart()
    with count_aws_requests() as first:
        started = time.perf_counter()
        action(0)
        first_ms = (time.perf_counter() - started) * 1000
    with count_aws_requests() as warm:
        action(1)
    timings: list[float] = []
    for index in range(2, 2 + context.runs(measured.runs)):
        started = time.perf_counter()
        action(index)
        timings.append((time.perf_counter() - started) * 1000)
    return Figures(measured, first.by_operation(), warm.by_operation(), first_ms, timings)


def measure_all(context: BenchContext) -> list[Figures]:
    """Figures of every registered operation, measured once per context."""

    def run(ctx: BenchContext) -> list[Figures]:
        ordered = sorted(OPERATIONS.values(), key=lambda entry: entry.order)
        return [measure(ctx, entry) for entry in ordered]

    return context.shared("operation-figures", run)


def expect(response: Any, status: int) -> Any:
    """``response`` if it has ``status``; a measured failure path would be meaningless."""
    if response.status_code != status:
        raise RuntimeError(f"expected HTTP {status}, got {response.status_code}: {response.body!r}")
    return response
