"""A seller that never wrote a dunning plan still reminds: its country's standard plan applies (reminder
with the legal fee, debt collection notice, hand-off) until the seller stores its own plan, which wins."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.container import Services
from chalicelib.dunning.index import CaseStatus
from chalicelib.money import Currency, Money
from infra.local.seed import seed_demo_catalog
from tests.support.catalog import Catalog, Http
from tests.support.dunning import NO_PLAN, World, allow_mail, plain_text, send_dunning_messages, sent_mail

STANDARD_NO = "standard-NO-2026-01-01"  # Norway's limits row valid from 1 January 2026


@pytest.fixture
def unplanned(services: Services, api: Client, admin: dict[str, str], catalog: Catalog) -> World:
    """A seller that has written no dunning plan."""
    allow_mail(services)
    return World(
        services,
        Http(api, admin),
        services.dunning,
        seller_id=catalog.seller["id"],
        offer_id=catalog.invoice_offer["id"],
    )


def test_a_seller_without_a_plan_reminds_with_the_legal_fee_then_notices(
    unplanned: World, dunning_api: Client, admin: dict[str, str]
) -> None:
    invoice = unplanned.order("kari@example.no")
    assert invoice.due_date == date(2027, 1, 15)
    unplanned.run_days(date(2027, 1, 2), date(2027, 1, 28))
    assert unplanned.case(invoice.id).letters == []  # nothing before 14 days after the due date

    unplanned.run_days(date(2027, 1, 29), date(2027, 3, 10))
    case = unplanned.case(invoice.id)
    assert case.plan_id == STANDARD_NO
    assert case.done == {
        f"dunning:{invoice.id}:reminder-1": date(2027, 1, 29),  # due date + the plan's 14 days
        f"dunning:{invoice.id}:notice": date(2027, 2, 12),  # 14 days later
        f"dunning:{invoice.id}:hand-off": date(2027, 2, 26),  # when the notice's 14 days ran out
    }
    assert case.status is CaseStatus.HANDED_OVER
    reminder, notice = case.letters
    # The purregebyr the law allows (NOK 35, limits.py), as its own fee document; the notice carries none
    assert (reminder.fee, reminder.amount, reminder.deadline) == (3500, 29900 + 3500, date(2027, 2, 12))
    assert reminder.fee_invoice_id is not None
    assert unplanned.invoice(reminder.fee_invoice_id).open_amount == 3500
    assert (notice.kind, notice.fee, notice.deadline) == ("collection_notice", 0, date(2027, 2, 26))
    send_dunning_messages(unplanned.services)
    mail = sent_mail()
    assert [key for key, _ in mail] == [f"dunning:{invoice.id}:reminder-1", f"dunning:{invoice.id}:notice"]
    assert "herav purregebyr 35,00\xa0kr" in plain_text(mail[0][1])
    assert mail[1][1]["Subject"] == "Inkassovarsel for faktura 1"

    # The API shows the plan in effect, and the plan a case names can be read
    http = Http(dunning_api, admin)
    status, listed = http.get(f"/v1/dunning-plans?legal_entity_id={unplanned.seller_id}")
    assert status == 200
    [shown] = listed["items"]
    assert (shown["id"], shown["standard"], shown["default"], shown["legal_entity_id"]) == (
        STANDARD_NO,
        True,
        True,
        unplanned.seller_id,
    )
    assert [(s["key"], s["days"], s["fee"]) for s in shown["steps"]] == [
        ("reminder-1", 14, {"amount": 3500, "currency": "NOK"}),
        ("notice", 28, None),
        ("hand-off", 42, None),
    ]
    status, read = http.get(f"/v1/dunning-plans/{STANDARD_NO}")
    assert status == 200 and read == {**shown, "legal_entity_id": None}
    # Nothing was stored: the list of stored plans stays empty
    assert http.get("/v1/dunning-plans") == (200, {"items": []})


def _own_plan(seller_id: str) -> dict[str, Any]:
    return {
        **NO_PLAN,
        "name": "Egen plan",
        "legal_entity_id": seller_id,
        "steps": [
            {"key": "purring", "kind": "reminder", "days": 20, "deadline_days": 10},
            {"key": "varsel", "kind": "collection_notice", "days": 30, "deadline_days": 14},
        ],
    }


def test_the_sellers_own_plan_replaces_the_standard_one(
    unplanned: World, dunning_api: Client, admin: dict[str, str]
) -> None:
    http = Http(dunning_api, admin)
    own = http.created("/v1/dunning-plans", _own_plan(unplanned.seller_id))
    invoice = unplanned.order("ola@example.no")
    unplanned.run_days(date(2027, 1, 2), date(2027, 3, 10))
    case = unplanned.case(invoice.id)
    assert case.plan_id == own["id"]
    assert case.done == {
        f"dunning:{invoice.id}:purring": date(2027, 2, 4),  # 20 days after the due date, without a fee
        f"dunning:{invoice.id}:varsel": date(2027, 2, 14),
    }
    assert (case.status, case.closed_reason) == (CaseStatus.CLOSED, "plan_finished")
    assert [letter.fee for letter in case.letters] == [0, 0]
    # A plan that covers every invoice hides the standard one
    status, listed = http.get(f"/v1/dunning-plans?legal_entity_id={unplanned.seller_id}")
    assert status == 200 and [plan["id"] for plan in listed["items"]] == [own["id"]]


def test_a_case_started_under_the_standard_plan_keeps_it(
    unplanned: World, dunning_api: Client, admin: dict[str, str]
) -> None:
    invoice = unplanned.order("per@example.no")
    unplanned.run_days(date(2027, 1, 2), date(2027, 1, 20))  # overdue: the run fixed the case's plan
    assert unplanned.case(invoice.id).plan_id == STANDARD_NO
    Http(dunning_api, admin).created("/v1/dunning-plans", _own_plan(unplanned.seller_id))
    unplanned.run_days(date(2027, 1, 21), date(2027, 2, 1))
    assert unplanned.case(invoice.id).done == {f"dunning:{invoice.id}:reminder-1": date(2027, 1, 29)}


def test_the_demo_seller_has_the_standard_plan(services: Services) -> None:
    seeded = seed_demo_catalog(services.catalog)
    assert seeded is not None
    [plan] = services.dunning.service.plans(seeded.legal_entity_id)
    assert (plan.plan.id, plan.standard, plan.plan.steps[0].fee) == (
        STANDARD_NO,
        True,
        Money(3500, Currency.NOK),
    )
