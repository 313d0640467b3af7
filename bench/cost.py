"""What an active subscriber costs in AWS a month: every request of every kind (DynamoDB, DynamoDB Streams,
SQS, S3, Lambda, SES, SNS) over a simulated month with mixed payment methods, priced with eu-north-1's
list prices (:mod:`bench.prices`) and shown in NOK per subscriber-month.

N subscribers of each method (``ABO_BENCH_COST_SUBSCRIBERS`` a method, 10 by default) order the demo
catalog's monthly offer on 1 January 2027 (invoice, AvtaleGiro, card, Vipps), on one in-process deployment
against moto with the Vipps and Stripe simulators: the card payers confirm on the payment page, the Vipps
payers approve in the app, the AvtaleGiro payers' mandates arrive from Nets, and the invoice and AvtaleGiro
payers pay by the bank's OCR file on each due date. The test clock takes them to 2 February (not measured).
Then a month is measured, 2 February to 2 March, as the test clock works it (every scheduled moment, every
queue and the events stream, in process): the March invoices issued with their e-mails and PDFs, the
AvtaleGiro claim file, the Vipps and card charges and their settling (the polling job; the providers'
webhooks are not posted), the bank's OCR file of 1 March (put into the bucket) and its import. Every
invoice of the month must be paid at its end, or the benchmark fails.

The same month on an empty platform is measured too; a subscriber's cost is the difference over the
subscribers, so that the test clock's own requests (and the daily schedules' fixed cost, which is not a
subscriber's) are not in it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import requests

from bench import BenchContext, Cell, Table, benchmark
from bench.meters import LambdaMeter, UnitMeter, memory_by_function, meter_invocations, meter_request_units
from bench.prices import USD_NOK, Usage, cost_usd, nok, requests_of
from bench.stack import ADMIN_HEADERS, CLOCK_START, ROOT, Deployment, stack
from chalicelib.avtalegiro.models import AvtaleGiroConfig, EntityAgreement
from chalicelib.container import CLOCK_FUNCTION
from chalicelib.orders.models import CustomerDetails, Order, OrderRequest
from infra.awscalls import AwsCallCounter, count_aws_requests, install
from infra.local.seed import seed_demo_catalog
from infra.local.stack import follow_platform_clock
from tests.integration.test_avtalegiro_claims import mandate_file
from tests.support.ocr import Paid, ocr_file
from tests.support.payment_world import STRIPE_KEY, Simulators, bind, simulators, with_providers
from tests.support.vipps import WebhookReceiver

METHODS = ("invoice", "avtalegiro", "card", "vipps")
PER_METHOD = int(os.environ.get("ABO_BENCH_COST_SUBSCRIBERS", "10"))
QUICK_PER_METHOD = 1
AIM_NOK = 0.01
MONTH_START = datetime(2027, 2, 2, 0, 0, tzinfo=CLOCK_START.tzinfo)
MONTH_END = datetime(2027, 3, 2, 0, 0, tzinfo=CLOCK_START.tzinfo)
# The payment page's publishable key (Stripe.js confirms with it and the intent's client secret).
PUBLISHABLE_KEY = "pk_test_abo_bench"


@dataclass
class Month:
    """What one measured month used."""

    calls: AwsCallCounter
    units: UnitMeter
    invocations: LambdaMeter

    def usage(self, memory_mb: dict[str, int]) -> Usage:
        """The month as priced usage."""
        return Usage(
            dict(self.calls.by_operation()),
            self.units.read,
            self.units.write,
            self.invocations.total,
            self.invocations.gb_seconds(memory_mb),
        )


@contextmanager
def _metered() -> Iterator[Month]:
    with count_aws_requests() as calls, meter_request_units() as units, meter_invocations() as invocations:
        yield Month(calls, units, invocations)


def _deployment(context: BenchContext, sims: Simulators, receiver: WebhookReceiver) -> Deployment:
    """A fresh deployment on the simulators, SES's sender verified, every schedule run once."""
    deployment = stack(context).fresh()
    settings = with_providers(deployment.settings, sims)
    settings = settings.model_copy(
        update={"vipps": settings.vipps.model_copy(update={"webhook_url": receiver.url})}
    )
    deployment.settings = settings
    deployment.services = services = bind(settings)
    services.ses.verify_email_identity(EmailAddress=settings.notification_from_address)
    services.clock_service.advance(CLOCK_START + timedelta(minutes=1))
    return deployment


def _pay_on_page(sims: Simulators, redirect_url: str) -> None:
    """The customer confirms the order's PaymentIntent with a card on our payment page (Stripe.js)."""
    base = sims.stripe.base_url
    intent = redirect_url.rstrip("/").rsplit("/", 1)[-1]
    fetched = requests.get(f"{base}/v1/payment_intents/{intent}", auth=(STRIPE_KEY, ""), timeout=30)
    fetched.raise_for_status()
    secret = fetched.json()["client_secret"]
    confirmed = requests.post(
        f"{base}/v1/payment_intents/{intent}/confirm",
        data={"client_secret": secret, "payment_method": "pm_card_visa"},
        headers={"Authorization": f"Bearer {PUBLISHABLE_KEY}"},
        timeout=30,
    )
    confirmed.raise_for_status()
    if confirmed.json()["status"] != "succeeded":
        raise RuntimeError(f"the card payment page answered {confirmed.json()['status']}")


def _subscribe(deployment: Deployment, sims: Simulators, per_method: int) -> list[Order]:
    """``per_method`` orders of each method, each taken as far as the customer takes it."""
    services = deployment.services
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    avtalegiro = services.avtalegiro
    avtalegiro.claims.configure(
        AvtaleGiroConfig(
            data_transmitter="55555555",
            agreements={
                seeded.legal_entity_id: EntityAgreement(
                    agreement_id="000123456", account="86011117947", bank_notification=True
                )
            },
        )
    )
    orders = [
        services.orders.place(
            OrderRequest(
                offer_id=seeded.offer_ids["monthly"],
                payment_method=method,
                customer=CustomerDetails(
                    type="person", name=f"{method} {index}", email=f"{method}.{index}@example.no"
                ),
            )
        )
        for method in METHODS
        for index in range(per_method)
    ]
    # The agreements are set up with the providers after the orders (the polling job's first run takes
    # those the order left new): then each customer approves in the Vipps app, pays on the card page, or
    # registers the mandate at the bank.
    _advance(deployment, CLOCK_START + timedelta(minutes=20))
    for index, order in enumerate(orders):
        if order.payment_method == "avtalegiro" and order.payment.kid:
            avtalegiro.mandates.import_bytes(mandate_file(order.payment.kid), f"mandates-{index}")
        elif order.payment_method in ("card", "vipps"):
            found = services.payments.setup(order.agreement_id)
            redirect = found[0].redirect_url if found else None
            if redirect is None:
                raise RuntimeError(f"the {order.payment_method} agreement of {order.id} was not set up")
            if order.payment_method == "card":
                _pay_on_page(sims, redirect)
            else:
                requests.post(f"{redirect}/approve", timeout=30).raise_for_status()
    return orders


def _invoices(deployment: Deployment, customer_id: str) -> list[dict[str, Any]]:
    response = deployment.api.http.get(
        f"/v1/customers/{customer_id}/invoices?limit=100", headers=ADMIN_HEADERS
    )
    if response.status_code != 200:
        raise RuntimeError(f"listing invoices answered {response.status_code}: {response.body!r}")
    return list(response.json_body["items"])


def _bank_payments(deployment: Deployment, orders: Sequence[Order], day: date) -> list[Paid]:
    """What the bank's OCR file of ``day`` pays: every open invoice due by then of the invoice and
    AvtaleGiro payers (an AvtaleGiro claim is settled as transaction type 15). Reading which invoices are
    open stands for the payers and their banks: callers do not count it."""
    return [
        Paid(
            invoice["kid"],
            invoice["totals"]["gross"]["amount"],
            15 if order.payment_method == "avtalegiro" else 10,
        )
        for order in orders
        if order.payment_method in ("invoice", "avtalegiro")
        for invoice in _invoices(deployment, order.customer_id)
        if invoice["status"] == "issued" and date.fromisoformat(invoice["due_date"]) <= day
    ]


def _bank_file(deployment: Deployment, paid: Sequence[Paid], day: date) -> None:
    """The OCR file put into the bucket under ocr/, and its import worked (S3's notification, the queue)."""
    if not paid:
        return
    services = deployment.services
    bucket = deployment.resources.buckets["DocumentsBucket"]
    body = ocr_file(paid, nets_date=day, transmission=f"{day:%m%d}001")
    services.s3.put_object(Bucket=bucket, Key=f"ocr/bank-{day.isoformat()}.txt", Body=body)
    services.drainer.drain(exclude=frozenset({CLOCK_FUNCTION}))


def _at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=CLOCK_START.tzinfo)


def _advance(deployment: Deployment, to: datetime) -> None:
    deployment.services.clock_service.advance(to)


def _unpaid(deployment: Deployment, orders: Sequence[Order], due_by: date) -> list[str]:
    return [
        f"{order.payment_method}:{invoice['id']}"
        for order in orders
        for invoice in _invoices(deployment, order.customer_id)
        if invoice["status"] not in ("paid", "draft") and date.fromisoformat(invoice["due_date"]) <= due_by
    ]


def _loaded_month(
    context: BenchContext, sims: Simulators, receiver: WebhookReceiver, per_method: int
) -> tuple[Month, int]:
    """The measured month of a platform with ``per_method`` subscribers of each method."""
    deployment = _deployment(context, sims, receiver)
    follow_platform_clock(deployment.services, sims.vipps)
    orders = _subscribe(deployment, sims, per_method)
    for day in (date(2027, 1, 10), date(2027, 2, 1)):  # the first and the February invoices paid
        _advance(deployment, _at(day, 10))
        _bank_file(deployment, _bank_payments(deployment, orders, day), day)
    _advance(deployment, MONTH_START)
    if unpaid := _unpaid(deployment, orders, date(2027, 2, 1)):
        raise RuntimeError(f"{len(unpaid)} invoices due by 1 February are not paid: {unpaid[:4]}")
    march = date(2027, 3, 1)
    with _metered() as month:
        _advance(deployment, _at(march, 10))
    paying = _bank_payments(deployment, orders, march)
    with _metered() as rest:
        _bank_file(deployment, paying, march)
        _advance(deployment, MONTH_END)
    if unpaid := _unpaid(deployment, orders, march):
        raise RuntimeError(f"{len(unpaid)} invoices due by 1 March are not paid: {unpaid[:4]}")
    return _joined(month, rest), len(orders)


def _joined(first: Month, second: Month) -> Month:
    calls = AwsCallCounter()
    for call in [*first.calls.calls, *second.calls.calls]:
        calls.record(call)
    units = UnitMeter(first.units.read + second.units.read, first.units.write + second.units.write)
    invocations = LambdaMeter()
    for meter in (first.invocations, second.invocations):
        for name, n in meter.invocations.items():
            invocations.invocations[name] = invocations.invocations.get(name, 0) + n
        for name, seconds in meter.seconds.items():
            invocations.seconds[name] = invocations.seconds.get(name, 0.0) + seconds
    return Month(calls, units, invocations)


def _empty_month(context: BenchContext, sims: Simulators, receiver: WebhookReceiver) -> Month:
    """The same month on a platform with no subscribers."""
    deployment = _deployment(context, sims, receiver)
    _advance(deployment, MONTH_START)
    with _metered() as month:
        _advance(deployment, MONTH_END)
    return month


def _nok(value: float) -> str:
    return f"{value:.6f}"


def _per(value: float) -> str:
    return f"{value:.2f}"


@benchmark("subscriber-month", order=80)
def subscriber_month(context: BenchContext) -> Sequence[Table]:
    """AWS requests of every kind and their price per active subscriber over a simulated month."""
    install()
    per_method = QUICK_PER_METHOD if context.quick else PER_METHOD
    sims = context.resources.enter_context(simulators())  # its own: the Vipps simulator's clock only moves on
    receiver = context.resources.enter_context(WebhookReceiver())
    memory = memory_by_function(ROOT / "template.yaml")
    started = time.perf_counter()
    empty = _empty_month(context, sims, receiver)
    loaded, subscribers = _loaded_month(context, sims, receiver, per_method)
    seconds = time.perf_counter() - started
    base, total = empty.usage(memory), loaded.usage(memory)
    each = total.minus(base).scaled(1 / subscribers)
    prices = cost_usd(each)
    fixed = cost_usd(base)
    writes_reads = f"{each.read_units:.2f} RRU, {each.write_units:.2f} WRU"
    s3_calls = {name: n for name, n in each.calls.items() if name.startswith("s3.")}
    rows: list[list[Cell]] = [
        ["DynamoDB", _per(requests_of(each.calls, "dynamodb")), writes_reads, _nok(nok(prices["dynamodb"]))],
        [
            "DynamoDB Streams (read by Lambda: free)",
            _per(requests_of(each.calls, "dynamodbstreams")),
            None,
            _nok(nok(prices["dynamodbstreams"])),
        ],
        ["SQS", _per(requests_of(each.calls, "sqs")), None, _nok(nok(prices["sqs"]))],
        [
            "S3",
            _per(sum(s3_calls.values())),
            ", ".join(f"{k[3:]} {v:.2f}" for k, v in sorted(s3_calls.items())),
            _nok(nok(prices["s3"])),
        ],
        [
            "Lambda",
            _per(each.lambda_invocations),
            f"{each.lambda_gb_seconds:.4f} GB-s",
            _nok(nok(prices["lambda"])),
        ],
        ["SES", _per(requests_of(each.calls, "ses")), None, _nok(nok(prices["ses"]))],
        ["SNS (SMS excluded)", _per(requests_of(each.calls, "sns")), None, _nok(nok(prices["sns"]))],
    ]
    per_subscriber_nok = nok(sum(prices.values()))
    rows.append(["total per subscriber-month", None, None, _nok(per_subscriber_nok)])
    rows.append(["aim", None, None, _nok(AIM_NOK)])
    detail: list[list[Cell]] = [
        [name, _per(n), _per(base.calls.get(name, 0))] for name, n in sorted(each.calls.items())
    ]
    detail += [
        [
            f"lambda {name}",
            _per(
                (loaded.invocations.invocations.get(name, 0) - empty.invocations.invocations.get(name, 0))
                / subscribers
            ),
            _per(empty.invocations.invocations.get(name, 0)),
        ]
        for name in sorted(loaded.invocations.invocations)
    ]
    return [
        Table(
            title=(
                f"Per active subscriber-month, eu-north-1 prices: {subscribers} subscribers "
                f"({per_method} each by {', '.join(METHODS)}), 2 Feb to 2 Mar 2027"
            ),
            columns=["service", "requests", "units", "NOK"],
            rows=rows,
            notes=[
                f"{'UNDER' if per_subscriber_nok < AIM_NOK else 'OVER'} the aim of {AIM_NOK} NOK; USD→NOK "
                f"{USD_NOK:.2f}; unit prices and their sources in bench/prices.py",
                "a subscriber's figure is (the month with them − the same month empty) / subscribers;",
                "DynamoDB units from each call's items (update and delete sized by key and values);",
                "Lambda GB-s from in-process time against moto at each function's MemorySize (arm64)",
                f"the empty month (the test clock's daily steps): {sum(base.calls.values()):.0f} requests, "
                f"{base.lambda_invocations:.0f} invocations, {nok(sum(fixed.values())):.4f} NOK; in AWS the",
                "schedules run at every moment (heartbeat each minute, polling each 15 minutes: ~46,000",
                "invocations, ~0.1 NOK a month in Lambda requests alone), not a subscriber's",
                f"ABO_BENCH_COST_SUBSCRIBERS: subscribers per method ({PER_METHOD} now); {seconds:.0f} s",
            ],
        ),
        Table(
            title="Per active subscriber-month: requests by operation (and the empty month's)",
            columns=["service.Operation / function", "per subscriber", "empty month"],
            rows=detail,
        ),
    ]
