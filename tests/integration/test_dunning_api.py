"""Dunning plans over HTTP: checked against the legal limits (422 problem JSON), listed and read; a
reminder on demand, with its events."""

from __future__ import annotations

from datetime import date

import pytest
from chalice.test import Client

from chalicelib.container import Services
from tests.integration.test_dunning_run import dunning_events, nok
from tests.support.catalog import Catalog, Http
from tests.support.dunning import NO_PLAN, World, send_dunning_messages, sent_mail, world


def test_a_fee_above_the_legal_limit_is_refused(
    dunning_api: Client, admin: dict[str, str], catalog: Catalog
) -> None:
    http = Http(dunning_api, admin)
    steps = [dict(step) for step in NO_PLAN["steps"]]
    steps[0]["fee"] = {"amount": 7000}
    status, problem = http.post(
        "/v1/dunning-plans", {**NO_PLAN, "steps": steps, "legal_entity_id": catalog.seller["id"]}
    )
    assert status == 422
    assert problem["type"] == "https://abo.dev/problems/validation-error"
    assert problem["errors"] == [
        {
            "field": "steps[0].fee",
            "in": "body",
            "code": "above_legal_limit",
            "message": "70.00 NOK is above the legal maximum of 35.00 NOK for a reminder in NO "
            "(inkassosats NOK 750 from 1 Jan 2026 (kred.no, blog.amili.no); fee cap kept at NOK 35)",
        }
    ]
    status, listed = http.get("/v1/dunning-plans")
    assert (status, listed) == (200, {"items": []})


def test_plans_are_created_listed_and_read(
    dunning_api: Client, admin: dict[str, str], catalog: Catalog
) -> None:
    http = Http(dunning_api, admin)
    seller = catalog.seller["id"]
    default = http.created("/v1/dunning-plans", {**NO_PLAN, "legal_entity_id": seller})
    assert default["steps"][0]["fee"] == {"amount": 3500, "currency": "NOK"}
    assert (default["default"], default["customer_type"], default["card_retry_days"]) == (
        True,
        None,
        [3, 5, 7],
    )
    business = http.created(
        "/v1/dunning-plans",
        {
            **NO_PLAN,
            "name": "Bedrift",
            "customer_type": "organization",
            "default": False,
            "legal_entity_id": seller,
        },
    )
    status, again = http.post(
        "/v1/dunning-plans", {**NO_PLAN, "name": "Ny standard", "legal_entity_id": seller}
    )
    assert (status, again["status"]) == (409, 409)
    status, listed = http.get(f"/v1/dunning-plans?legal_entity_id={seller}")
    assert status == 200 and [plan["id"] for plan in listed["items"]] == [default["id"], business["id"]]
    status, read = http.get(f"/v1/dunning-plans/{business['id']}")
    assert (status, read) == (200, business)
    status, missing = http.get("/v1/dunning-plans/dpl_nope")
    assert (status, missing["status"]) == (404, 404)


def test_a_reminder_on_demand_is_sent_once_a_day(
    services: Services, api: Client, dunning_api: Client, admin: dict[str, str], catalog: Catalog
) -> None:
    dunned: World = world(
        services,
        Http(api, admin),
        Http(dunning_api, admin),
        catalog.invoice_offer["id"],
        catalog.seller["id"],
    )
    http = Http(dunning_api, admin)
    invoice = dunned.order("purr@example.no")
    # Not overdue yet on the clock's day (1 January; due 15 January)
    status, problem = http.post(f"/v1/invoices/{invoice.id}/reminders", {})
    assert (status, problem["status"]) == (409, 409)
    from datetime import UTC, datetime

    from chalicelib.clock import FixedClock
    from chalicelib.dunning.service import DunningService

    later = DunningService(
        services.documents,
        services.ledger,
        services.notifications.deliveries,
        FixedClock(datetime(2027, 1, 20, 9, tzinfo=UTC)),
    )
    first = later.remind(invoice.id)
    again = later.remind(invoice.id)
    assert (first.created, again.created) == (True, False)
    # The reminder is the invoice's first step: it makes it overdue, and the same day again records nothing
    common = {"invoice_id": invoice.id, "customer_id": invoice.customer_id}
    assert dunning_events(invoice.id) == [
        ("invoice.overdue", {**common, "due_date": "2027-01-15", "open_amount": nok(29900)}),
        (
            "dunning.step_taken",
            {
                **common,
                "step": "manual-2027-01-20",
                "step_number": 1,
                "fee": None,
                "fee_invoice_id": None,
                "action": "reminder",
            },
        ),
    ]
    [letter] = first.case.letters
    assert (letter.key, letter.sent_on, letter.amount, letter.fee, letter.delivery) == (
        f"dunning:{invoice.id}:manual-2027-01-20",
        date(2027, 1, 20),
        29900,
        0,
        "queued",  # recorded: the notifications send it from the step's event
    )
    # A fee is refused before the 14 days the law asks for
    from chalicelib.errors import ValidationFailedError

    with pytest.raises(ValidationFailedError, match="14 days after the due date"):
        DunningService(
            services.documents,
            services.ledger,
            services.notifications.deliveries,
            FixedClock(datetime(2027, 1, 22, 9, tzinfo=UTC)),
        ).remind(invoice.id, with_fee=True)
    send_dunning_messages(services)
    assert [key for key, _ in sent_mail()] == [f"dunning:{invoice.id}:manual-2027-01-20"]
    status, case = http.get(f"/v1/invoices/{invoice.id}/dunning")
    assert status == 200 and case["letters"][0]["key"] == f"dunning:{invoice.id}:manual-2027-01-20"
    assert case["letters"][0]["delivery"] == "sent"
