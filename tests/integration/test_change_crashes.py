"""A change that dies at any AWS call is finished by retrying it: one credit note, one invoice for what is
owed, numbers without gaps. The example: a paid 90.00 EUR January upgraded to 150.00 EUR on its first day:
30/31 x 90.00 = 87.10 credited, 30/31 x 150.00 = 145.16 charged."""

from __future__ import annotations

import contextlib

import pytest
from chalice.test import Client

from chalicelib.billing.models import Invoice, InvoiceKind, InvoiceStatus
from chalicelib.container import Services
from chalicelib.subscriptions.models import StopWhen
from infra.awscalls import InjectedCrash, fail_at_call, install
from tests.integration.test_changes import catalog
from tests.integration.test_stops import order, pay
from tests.support.aws import fresh_resources
from tests.support.catalog import Http


def issued(services: Services, customer_id: str) -> list[Invoice]:
    page = services.documents.page(f"CUSTOMER#{customer_id}", Invoice, 100, None, prefix="INV#")
    return sorted((i for i in page.items if i.status != InvoiceStatus.DRAFT), key=lambda i: i.number or 0)


@pytest.mark.timeout(900)
def test_a_change_crashed_at_each_aws_call_and_retried_restates_once(
    services: Services, moto_endpoint: str, api: Client, admin: dict[str, str]
) -> None:
    install()
    n = 1
    while True:
        fresh_resources(moto_endpoint)
        http = Http(api, admin)
        ids = catalog(http)
        placed = order(http, ids["offer"], "2027-01-01")
        pay(services, http.get(f"/v1/invoices/{placed['invoice_id']}")[1])
        sub = placed["subscription_id"]
        with fail_at_call(n) as fault, contextlib.suppress(InjectedCrash):
            services.change_subscription.change(sub, ids["plus"], None, StopWhen.NOW)
        services.change_subscription.change(sub, ids["plus"], None, StopWhen.NOW)  # the client retries
        documents = issued(services, placed["customer_id"])
        assert [d.number for d in documents] == [1, 2, 3], n
        assert sorted((d.kind, d.totals.gross) for d in documents) == [
            (InvoiceKind.CREDIT_NOTE, -8710),
            (InvoiceKind.INVOICE, 9000),
            (InvoiceKind.INVOICE, 14516),
        ], n
        if not fault.fired:
            break
        n += 1
    assert n > 10
