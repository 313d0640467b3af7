"""Which notices dunning's events ask for: a letter for a reminder or collection notice step, nothing for
the other steps, and one failed-charge message per invoice from ``payment.failed``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.events import EventType, new_event
from chalicelib.notifications.events import notices_for
from chalicelib.notifications.kinds import MessageKind

AT = datetime(2027, 1, 29, 8, 0, tzinfo=UTC)


def step_taken(step: str, action: str | None) -> dict[str, Any]:
    return {
        "invoice_id": "inv_1",
        "customer_id": "cus_1",
        "step": step,
        "step_number": 1,
        "fee": None,
        "fee_invoice_id": None,
        "action": action,
    }


@pytest.mark.parametrize(
    ("step", "action", "kind"),
    [
        ("reminder-1", "reminder", MessageKind.REMINDER),
        ("manual-2027-01-29", "reminder", MessageKind.REMINDER),
        ("notice", "collection_notice", MessageKind.COLLECTION_NOTICE),
    ],
)
def test_a_letter_step_asks_for_its_letter_under_the_step_key(
    step: str, action: str, kind: MessageKind
) -> None:
    event = new_event(EventType.DUNNING_STEP_TAKEN, "le_1", AT, step_taken(step, action))
    [notice] = notices_for(event)
    assert (notice.kind, notice.key, dict(notice.refs)) == (
        kind,
        f"dunning:inv_1:{step}",
        {"invoice_id": "inv_1"},
    )


@pytest.mark.parametrize("action", ["hand_off", "suspend", "stop", None])
def test_the_other_steps_ask_for_no_letter(action: str | None) -> None:
    event = new_event(EventType.DUNNING_STEP_TAKEN, "le_1", AT, step_taken("x", action))
    assert notices_for(event) == []


def payment_failed(invoice_id: str | None) -> dict[str, Any]:
    return {
        "payment_id": "charge-0",
        "customer_id": "cus_1",
        "invoice_id": invoice_id,
        "amount": {"amount": 29900, "currency": "NOK"},
        "method": "card",
        "reason": "declined",
    }


def test_a_failed_charge_asks_for_one_message_per_invoice() -> None:
    first = new_event(EventType.PAYMENT_FAILED, "le_1", AT, payment_failed("inv_1"))
    retry = new_event(EventType.PAYMENT_FAILED, "le_1", AT, payment_failed("inv_1"))
    [notice] = notices_for(first)
    [again] = notices_for(retry)
    assert (notice.kind, notice.key) == (MessageKind.PAYMENT_FAILED, "dunning:inv_1:failed-charge")
    assert again.key == notice.key
    assert dict(notice.refs) == {"invoice_id": "inv_1", "failed_at": AT.isoformat(), "method": "card"}


def test_a_failed_charge_of_no_invoice_asks_for_nothing() -> None:
    event = new_event(EventType.PAYMENT_FAILED, "le_1", AT, payment_failed(None))
    assert notices_for(event) == []
