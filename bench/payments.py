"""Renewals paid by Vipps and by card: provider requests and DynamoDB requests per renewed subscription,
for the daily charging job and for settling, against the local simulators and moto.

For each method, N payers (``ABO_BENCH_PAYMENT_PAYERS``, 100 by default, 40 with ``--quick``) are seeded
with a live agreement at the simulators and an issued invoice in the charge index (not measured;
``tests/support/payment_world.py``). Then, each phase in a fresh container (a new Lambda instance):

1. the charging job (``charge_due``) on the method's charge date (Vipps two days before the due date,
   cards on it); the providers then settle (the Vipps simulator's clock passes the due date);
2. settling by webhook for the first half of the payers: the provider's real signed webhooks, captured,
   posted to ``POST /v1/callbacks/<provider>`` (the callback: verify, record, queue), then the queue
   worked by ``functions/payment_events.py`` (fetch from the provider, apply);
3. settling by polling for the other half: ``payment_polling`` runs (at most 60 provider calls each)
   until one finds less than a full budget to do.

Provider requests are the HTTP requests the simulators received (Vipps' access token included), by
operation; DynamoDB requests are counted through botocore. The container's clock is a fixed clock, as
production reads the system clock (the stored test clock would add a read per reading).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import count
from typing import Any, TypeVar

from bench import BenchContext, Cell, Table, benchmark
from bench.stack import Deployment, stack
from chalicelib.billing.models import InvoiceStatus
from chalicelib.clock import FixedClock, local_date
from chalicelib.container import Services
from chalicelib.flows.poll_payments import POLL_BUDGET
from chalicelib.settings import Settings
from chalicelib.values import PaymentMethod
from infra.awscalls import count_aws_requests, install
from infra.simulators.vipps import WebhookTarget, due_instant
from tests.support.payment_world import Payer, Simulators, bind, seed_payer, simulators, with_providers
from tests.support.vipps import WEBHOOK_SECRET, Received, WebhookReceiver

T = TypeVar("T")

# 100 a method runs in about half a minute; the figures per subscription barely move with N (the Vipps
# access token and the polling runs' queries are the only costs shared between subscriptions).
FULL = int(os.environ.get("ABO_BENCH_PAYMENT_PAYERS", "100"))
QUICK = 40
RENEWAL_GOAL = 6  # DynamoDB requests from the charge to the settled payment, per renewal
METHODS = (PaymentMethod.VIPPS, PaymentMethod.CARD)
# The webhook that settles a renewal, per method.
SETTLED_BY = {
    PaymentMethod.VIPPS: "recurring.charge-captured.v1",
    PaymentMethod.CARD: "payment_intent.succeeded",
}
# A path segment that names a resource (agreement, charge, customer, PaymentIntent), not a route.
_ID = re.compile(r"^(?!v\d+$)(?=.*\d)|^(agr|cus|pi|pm)_")
_numbers = count(1)


@dataclass
class Providers:
    """The simulators for the whole bench run, their webhooks captured by one receiver."""

    sims: Simulators
    receiver: WebhookReceiver

    @property
    def stripe_url(self) -> str:
        return self.receiver.url.replace("/vipps", "/stripe")

    def mark(self) -> tuple[int, int]:
        """Where the simulators' request logs are now."""
        assert self.sims.stripe.shim is not None
        return len(self.sims.vipps.requests), len(self.sims.stripe.shim.requests_seen)

    def since(self, mark: tuple[int, int]) -> Counter[str]:
        """The provider requests received since ``mark``, by operation."""
        assert self.sims.stripe.shim is not None
        vipps = self.sims.vipps.requests[mark[0] :]
        stripe = self.sims.stripe.shim.requests_seen[mark[1] :]
        found: Counter[str] = Counter()
        found.update(f"vipps {_route(m, p)}" for m, p in vipps if not p.startswith("/simulator/"))
        found.update(f"stripe {_route(m, p)}" for m, p in stripe)
        return found


def _route(method: str, path: str) -> str:
    parts = ["{id}" if _ID.match(part) else part for part in path.strip("/").split("/")]
    return f"{method} /{'/'.join(parts)}"


def _providers(context: BenchContext) -> Providers:
    sims = context.resources.enter_context(simulators())
    receiver = context.resources.enter_context(WebhookReceiver())
    running = Providers(sims, receiver)
    sims.vipps.targets.append(WebhookTarget(receiver.url, WEBHOOK_SECRET, frozenset(SETTLED_BY.values())))
    return running


@dataclass
class Phase:
    """What one measured phase did."""

    name: str
    subscriptions: int
    seconds: float = 0.0
    provider: Counter[str] = field(default_factory=Counter)
    aws: Counter[str] = field(default_factory=Counter)

    @property
    def provider_total(self) -> int:
        return sum(self.provider.values())

    @property
    def dynamodb(self) -> dict[str, int]:
        return {name: n for name, n in self.aws.items() if name.startswith("dynamodb.")}

    @property
    def dynamodb_total(self) -> int:
        return sum(self.dynamodb.values())


def _measure(providers: Providers, phase: Phase, action: Callable[[], T]) -> T:
    mark = providers.mark()
    with count_aws_requests() as counter:
        started = time.perf_counter()
        result = action()
        phase.seconds = time.perf_counter() - started
    phase.provider = providers.since(mark)
    phase.aws = counter.by_operation()
    return result


def _container(settings: Settings, clock: FixedClock) -> Services:
    """A fresh container (a new Lambda instance) reading ``clock``."""
    services = bind(settings)
    services.clock = clock
    return services


def _webhooks(providers: Providers, method: PaymentMethod, payers: Sequence[Payer]) -> list[Received]:
    """The settling webhook of each payer as the receiver captured it (localstripe posts a second late)."""
    providers.sims.vipps.wait_for_webhooks()
    wanted = {payer.agreement_ref for payer in payers}
    deadline = time.monotonic() + 30
    while True:
        found: dict[str, Received] = {}
        for received in list(providers.receiver.received):
            body: dict[str, Any] = json.loads(received.body)
            if method == PaymentMethod.VIPPS:
                ref, kind = body.get("agreementId"), body.get("eventType")
            else:
                ref, kind = body.get("data", {}).get("object", {}).get("customer"), body.get("type")
            if ref in wanted and kind == SETTLED_BY[method]:
                found.setdefault(str(ref), received)
        if len(found) == len(wanted):
            return list(found.values())
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(found)} of {len(wanted)} {SETTLED_BY[method]} webhooks arrived")
        time.sleep(0.1)


def _post(deployment: Deployment, received: Received) -> None:
    provider = "vipps" if received.path.endswith("/vipps") else "stripe"
    headers = {k: v for k, v in received.headers.items() if k.lower() not in ("host", "content-length")}
    response = deployment.api.http.post(f"/v1/callbacks/{provider}", headers=headers, body=received.body)
    if response.status_code != 200 or response.json_body["duplicate"]:
        raise RuntimeError(f"the callback answered {response.status_code}: {response.body!r}")


def _work_queue(services: Services) -> int:
    """Feed the payment events queue to its worker until it is empty (the SQS event-source mapping)."""
    [consumer] = [q for q in services.wiring.queues if q.handler == "functions.payment_events.handler"]
    seen = 0
    while taken := services.drainer.poll_once(consumer):
        seen += taken
    return seen


def _poll(services: Services) -> int:
    """Polling runs until one had budget to spare; returns how many ran."""
    runs = 0
    while True:
        runs += 1
        report = services.payment_flows.polling.poll()
        if report.interrupted:
            raise RuntimeError(f"polling was interrupted: {report.interrupted}")
        if report.provider_calls < POLL_BUDGET:
            return runs


def renewals(context: BenchContext, method: PaymentMethod, payers_count: int) -> list[Phase]:
    """Seed ``payers_count`` payers of ``method`` on a fresh deployment, then measure each phase."""
    providers = context.shared("payment-providers", _providers)
    sims = providers.sims
    deployment = stack(context).fresh()
    settings = with_providers(deployment.settings, sims)
    settings = settings.model_copy(
        update={"vipps": settings.vipps.model_copy(update={"webhook_url": providers.receiver.url})}
    )
    secret = settings.stripe.webhook_secret.get_secret_value()
    sims.stripe.register_webhook(providers.stripe_url, secret, [SETTLED_BY[PaymentMethod.CARD]])
    seeding = bind(settings)
    due = (sims.vipps.now + timedelta(days=14)).date()  # the simulator's clock only moves forward
    payers = [seed_payer(seeding, sims, method, next(_numbers), due=due) for _ in range(payers_count)]
    charge_day = due - timedelta(days=2) if method == PaymentMethod.VIPPS else due
    clock = FixedClock(due_instant(charge_day) + timedelta(hours=6))  # the job runs at 05:00 UTC

    charging = Phase("charging job (charge_due)", payers_count)
    services = _container(settings, clock)
    report = _measure(
        providers, charging, lambda: services.payment_flows.charging.charge_due(local_date(clock.now()))
    )
    if len(report.charged) != payers_count or report.interrupted:
        raise RuntimeError(f"the charging job charged {len(report.charged)} of {payers_count}: {report}")

    sims.vipps.advance(max(sims.vipps.now, due_instant(due) + timedelta(hours=1)))  # Vipps takes them
    clock.instant = due_instant(due) + timedelta(hours=2)
    by_webhook, by_polling = payers[: payers_count // 2], payers[payers_count // 2 :]
    webhooks = _webhooks(providers, method, by_webhook)

    callback = Phase("settling by webhook: callback", len(by_webhook))
    _container(settings, clock)

    def post_all() -> None:
        for received in webhooks:
            _post(deployment, received)

    _measure(providers, callback, post_all)
    worker = Phase("settling by webhook: worker", len(by_webhook))
    services = _container(settings, clock)
    worked = _measure(providers, worker, lambda: _work_queue(services))
    if worked != len(webhooks):
        raise RuntimeError(f"the worker took {worked} of {len(webhooks)} events")

    polling = Phase("settling by polling", len(by_polling))
    services = _container(settings, clock)
    runs = _measure(providers, polling, lambda: _poll(services))
    polling.name = f"settling by polling ({runs} run{'s' if runs > 1 else ''})"

    unpaid = [
        p.invoice.id
        for p in payers
        if services.subscriptions.invoice(p.invoice.id).status != InvoiceStatus.PAID
    ]
    if unpaid:
        raise RuntimeError(
            f"{len(unpaid)} of {payers_count} {method.value} invoices are not paid: {unpaid[:3]}"
        )
    return [charging, callback, worker, polling]


def _per(total: int, subscriptions: int) -> str:
    """Two decimals (the table prints floats with one)."""
    return f"{total / subscriptions:.2f}" if subscriptions else "-"


@benchmark("payment-renewals", order=72)
def payment_renewals(context: BenchContext) -> Sequence[Table]:
    """Provider and DynamoDB requests per renewal paid by Vipps and by card."""
    install()
    payers_count = QUICK if context.quick else FULL
    measured = {method: renewals(context, method, payers_count) for method in METHODS}
    rows: list[list[Cell]] = []
    detail: list[list[Cell]] = []
    for method, phases in measured.items():
        for phase in phases:
            n = phase.subscriptions
            rows.append(
                [
                    method.value,
                    phase.name,
                    n,
                    phase.provider_total,
                    _per(phase.provider_total, n),
                    phase.dynamodb_total,
                    _per(phase.dynamodb_total, n),
                    _per(round(phase.seconds * 1000), n),
                ]
            )
            detail.append([f"{method.value}: {phase.name}", None, None])
            detail += [[f"  {name}", calls, _per(calls, n)] for name, calls in sorted(phase.provider.items())]
            detail += [[f"  {name}", calls, _per(calls, n)] for name, calls in sorted(phase.dynamodb.items())]
        charging, callback, worker, polling = phases
        rows.append(
            _total(
                method,
                "renewal settled by webhook (charging + callback + worker)",
                [charging, callback, worker],
            )
        )
        rows.append(_total(method, "renewal settled by polling (charging + polling)", [charging, polling]))
    return [
        Table(
            title=f"Payment renewals (simulators, moto): N = {payers_count} a method",
            columns=[
                "method",
                "phase",
                "subscriptions",
                "provider requests",
                "provider per sub",
                "DynamoDB requests",
                "DynamoDB per sub",
                "ms per sub",
            ],
            rows=rows,
            notes=[
                "each phase in a fresh container; half the payers settle by their webhook (the callback",
                "route, then the payment events worker), the other half by the polling job (60 provider",
                "calls a run at most); a card renewal is paid when its PaymentIntent is created, so polling",
                "finds nothing open and the webhook's fetch changes nothing; Vipps takes its charges on the",
                "due date, and the webhook's or the poll's fetch of the charge records the payment",
                f"ABO_BENCH_PAYMENT_PAYERS sets N (per method; {FULL} now) outside --quick",
                f"goal (#12): from charge to settled payment in at most {RENEWAL_GOAL} DynamoDB requests",
                "a renewal (the DynamoDB per sub of the 'renewal settled' rows)",
            ],
        ),
        Table(
            title="Payment renewals: requests by operation",
            columns=["method: phase / operation", "requests", "per sub"],
            rows=detail,
        ),
    ]


def _total(method: PaymentMethod, name: str, phases: Sequence[Phase]) -> list[Cell]:
    """One renewal's requests along a path: the sum of its phases' figures per subscription."""
    provider = sum(phase.provider_total / phase.subscriptions for phase in phases)
    dynamodb = sum(phase.dynamodb_total / phase.subscriptions for phase in phases)
    return [method.value, name, None, None, f"{provider:.2f}", None, f"{dynamodb:.2f}", None]
