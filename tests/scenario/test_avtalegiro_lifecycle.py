"""Scenario, over HTTP with the test clock: Ola and Kari pay by AvtaleGiro.

1 Jan   both order, 299.00 NOK a month, paid by AvtaleGiro: the answer gives the KID each registers the
        mandate with; the first invoice (1 Jan, due 15 Jan) is an invoice with KID. The seller's
        Norwegian dunning plan reminds 14 days after the due date.
5 Jan   Nets' mandate files arrive in the drop folder: both mandates are active, with written notice.
10 Jan  both pay their first invoice by giro with its KID.
18 Jan  the invoice run issues February (due 1 Feb); the claim job puts both in that day's claim file
        (claim type 02, 299.00 NOK each, due 1 Feb).
1 Feb   the OCR giro file settles Ola's claim (transaction type 15): his February is paid. Kari's bank
        does not pay hers (her monthly AvtaleGiro limit).
15 Feb  March (due 1 Mar) is issued and claimed for both. Kari's unpaid February claim enters dunning as
        an invoice with KID: the reminder asks her to pay it with its KID.
16 Feb  Ola stops now (ends 17 Feb): March is credited, and the 17 Feb deletion file deletes its claim.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import boto3
import netsgiro
import requests

from infra.local.stack import LocalStack
from tests.integration.test_avtalegiro_claims import mandate_file
from tests.scenario.conftest import ADMIN_TOKEN, Api
from tests.scenario.dunning.conftest import NO_PLAN, case, mail, text_of
from tests.scenario.test_order_lifecycle import SELLER
from tests.support.clock import advance_clock
from tests.support.ocr import Paid, ocr_file


def advance(api: Api, to: str) -> None:
    advance_clock(api, to)


def drop(stack: LocalStack, folder: str, name: str, data: bytes) -> None:
    """Save a file into the drop folder and wait until the stack has put it in the bucket."""
    inbox = stack.inbox_dir / folder
    (inbox / name).write_bytes(data)
    wait_for(lambda: (inbox / ".done" / name).exists() or any((inbox / ".done").glob(f"*{name}")))


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def invoices(api: Api, customer_id: str) -> dict[str, dict[str, Any]]:
    page = api.get(f"/v1/customers/{customer_id}/invoices").json()
    return {
        i["period"]["start"]: i
        for i in page["items"]
        if i["kind"] == "invoice" and i["status"] != "draft" and i.get("period")
    }


def claim_file(stack: LocalStack, key: str) -> list[netsgiro.PaymentRequest]:
    s3 = boto3.client("s3", endpoint_url=stack.aws_endpoint, region_name="eu-north-1")
    assert stack.resources is not None
    body = s3.get_object(Bucket=stack.resources.buckets["DocumentsBucket"], Key=key)["Body"].read()
    parsed = netsgiro.parse(body.decode("latin-1"))
    return [t for a in parsed.assignments for t in a.transactions if isinstance(t, netsgiro.PaymentRequest)]


def test_ola_pays_by_avtalegiro_from_mandate_to_settlement_and_deletion(api: Api, stack: LocalStack) -> None:
    seller = api.created("/v1/legal-entities", SELLER)
    product = api.created("/v1/products", {"name": "Nordavisa", "kind": "digital", "vat_rate_code": "news"})
    plan = api.created(
        "/v1/plans",
        {
            "name": "Månedlig",
            "product_ids": [product["id"]],
            "currency": "NOK",
            "price": {"amount": 29900},
            "period": {"unit": "month", "count": 1},
        },
    )
    offer = api.created(
        "/v1/offers",
        {
            "name": "AvtaleGiro",
            "plan_id": plan["id"],
            "payment_methods": ["avtalegiro"],
            "access": "on_order",
        },
    )
    settings = {
        "data_transmitter": "55555555",
        "agreements": {seller["id"]: {"agreement_id": "000123456", "account": "86011117947"}},
    }
    response = requests.put(
        api.base_url + "/v1/avtalegiro/settings",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        data=json.dumps(settings),
        timeout=30,
    )
    assert response.status_code == 200, response.text

    api.created("/v1/dunning-plans", {**NO_PLAN, "legal_entity_id": seller["id"]})

    def order(name: str, email: str) -> tuple[dict[str, Any], str]:
        placed = api.created(
            "/v1/orders",
            {
                "offer_id": offer["id"],
                "payment_method": "avtalegiro",
                "customer": {"type": "person", "name": name, "email": email},
            },
        )
        assert placed["payment"]["status"] == "awaiting_mandate" and placed["payment"]["kid"]
        return placed, str(placed["payment"]["kid"])

    placed, kid = order("Ola Nordmann", "ola@example.no")
    kari, kari_kid = order("Kari Nordmann", "kari@example.no")
    first = invoices(api, placed["customer_id"])["2027-01-01"]
    assert (first["due_date"], first["totals"]["gross"]["amount"]) == ("2027-01-15", 29900)
    kari_first = invoices(api, kari["customer_id"])["2027-01-01"]

    advance(api, "2027-01-05T08:00:00+01:00")
    drop(stack, "avtalegiro/mandates", "mandates-0105.txt", mandate_file(kid, registration=1, notify=True))
    drop(stack, "avtalegiro/mandates", "mandates-0105b.txt", mandate_file(kari_kid, registration=1))
    advance(api, "2027-01-05T09:00:00+01:00")  # drains the mandate import

    advance(api, "2027-01-10T10:00:00+01:00")
    giro = ocr_file([Paid(first["kid"], 29900), Paid(kari_first["kid"], 29900)], nets_date=date(2027, 1, 10))
    drop(stack, "ocr", "ocr-0110.txt", giro)
    advance(api, "2027-01-10T11:00:00+01:00")
    wait_for(lambda: invoices(api, kari["customer_id"])["2027-01-01"]["status"] == "paid")

    advance(api, "2027-01-18T12:00:00+01:00")
    february = invoices(api, placed["customer_id"])["2027-02-01"]
    assert (february["issue_date"], february["due_date"]) == ("2027-01-18", "2027-02-01")
    submission = api.get("/v1/avtalegiro/submissions/claims/2027-01-18").json()
    assert (submission["status"], submission["claims"], submission["total_amount"]) == ("written", 2, 59800)
    claims = {str(c.kid): c for c in claim_file(stack, submission["key"])}
    kari_february = invoices(api, kari["customer_id"])["2027-02-01"]
    assert sorted(claims) == sorted([february["kid"], kari_february["kid"]])
    claim = claims[february["kid"]]
    assert (claim.kid, claim.amount_in_cents, claim.date.isoformat(), int(claim.type)) == (
        february["kid"],
        29900,
        "2027-02-01",
        2,
    )

    advance(api, "2027-02-01T10:00:00+01:00")
    settlement = ocr_file([Paid(february["kid"], 29900, transaction_type=15)], nets_date=date(2027, 2, 1))
    drop(stack, "ocr", "ocr-0201.txt", settlement)
    advance(api, "2027-02-01T11:00:00+01:00")
    wait_for(lambda: invoices(api, placed["customer_id"])["2027-02-01"]["status"] == "paid")

    advance(api, "2027-02-16T12:00:00+01:00")
    march = invoices(api, placed["customer_id"])["2027-03-01"]
    assert api.get("/v1/avtalegiro/submissions/claims/2027-02-15").json()["claims"] == 2
    assert invoices(api, kari["customer_id"])["2027-02-01"]["status"] == "issued"
    dunned = case(api, kari_february["id"])
    assert dunned["status"] == "active"
    [letter] = dunned["letters"]
    assert (letter["kind"], letter["sent_on"], letter["amount"]["amount"]) == (
        "reminder",
        "2027-02-15",
        33400,
    )
    reminder = text_of(mail(stack, f"dunning:{kari_february['id']}:reminder-1"))
    assert kari_february["kid"] in reminder
    stopped = api.post(f"/v1/subscriptions/{placed['subscription_id']}/stop", {"effective": "now"})
    assert stopped.status_code == 200, stopped.text
    assert invoices(api, placed["customer_id"])["2027-03-01"]["status"] == "credited"
    advance(api, "2027-02-17T12:00:00+01:00")
    deletions = api.get("/v1/avtalegiro/submissions/deletions/2027-02-17").json()
    assert (deletions["claims"], deletions["total_amount"]) == (1, march["totals"]["gross"]["amount"])
