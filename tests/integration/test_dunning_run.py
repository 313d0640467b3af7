"""The dunning run: reminder, debt collection notice and hand-off on their days, fees as numbered
documents with their own KID, stopped by payment, card retries first, each step once, and each step's
events (``invoice.overdue`` at the first, ``dunning.step_taken``, the fee's ``invoice.issued``) recorded
once in its transaction."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.billing.kid import DEFAULT_KID_LAYOUT
from chalicelib.billing.models import Invoice, InvoiceStatus, LineKind
from chalicelib.container import Services
from chalicelib.dunning.index import CaseStatus, dunning_shard
from chalicelib.dunning.steps import CardRetryRequest, retry_request_keys
from chalicelib.events import EventType
from chalicelib.ledger.models import Account, IncomingMethod
from chalicelib.ledger.posting import payment_failed_event
from chalicelib.ledger.recording import IncomingPayment
from chalicelib.money import Currency
from chalicelib.notifications.sender import SentNotification, marker_keys
from chalicelib.store import keys
from chalicelib.values import PaymentMethod
from tests.support.dunning import World, plain_text, send_dunning_messages, sent_mail
from tests.support.events import recorded_events

DUNNING_EVENTS = (EventType.INVOICE_OVERDUE, EventType.DUNNING_STEP_TAKEN)


def dunning_events(invoice_id: str) -> list[tuple[str, dict[str, object]]]:
    """(type, data) of the recorded ``invoice.overdue`` and ``dunning.step_taken`` of an invoice, in the
    order of its steps (the overdue first)."""
    found = [
        (event.type.value, dict(event.data))
        for event in recorded_events()
        if event.type in DUNNING_EVENTS and event.data["invoice_id"] == invoice_id
    ]
    return sorted(found, key=lambda pair: (pair[0] != "invoice.overdue", pair[1].get("step_number", 0)))


def nok(amount: int) -> dict[str, object]:
    """An amount in an event's data."""
    return {"amount": amount, "currency": "NOK"}


def account(services: Services, invoice: Invoice) -> Account:
    found = services.documents.get_document(
        f"CUSTOMER#{invoice.customer_id}", f"ACCOUNT#{invoice.legal_entity_id}#NOK", Account
    )
    assert found is not None
    return found


def test_an_unpaid_invoice_is_reminded_noticed_and_handed_over(dunned: World, services: Services) -> None:
    invoice = dunned.order("kari@example.no")
    assert (invoice.number, invoice.totals.gross, invoice.due_date) == (1, 29900, date(2027, 1, 15))
    dunned.run_days(date(2027, 1, 2), date(2027, 3, 10))

    case = dunned.case(invoice.id)
    assert case.done == {
        f"dunning:{invoice.id}:reminder-1": date(2027, 1, 29),  # 14 days after the due date
        f"dunning:{invoice.id}:notice": date(2027, 2, 12),  # 14 days later
        f"dunning:{invoice.id}:hand-off": date(2027, 2, 26),  # when the notice's 14 days ran out
    }
    assert (case.status, case.handed_over_on, case.next_on) == (
        CaseStatus.HANDED_OVER,
        date(2027, 2, 26),
        None,
    )

    # Each fee is a numbered document in the invoice series with one fee line and its own KID
    reminder, notice = case.letters
    assert (reminder.amount, reminder.fee, reminder.deadline) == (33400, 3500, date(2027, 2, 12))
    assert (notice.amount, notice.fee, notice.deadline) == (36900, 3500, date(2027, 2, 26))
    assert (reminder.fee_invoice_number, notice.fee_invoice_number) == (2, 3)
    fee = dunned.invoice(reminder.fee_invoice_id or "")
    assert (fee.status, fee.open_amount, fee.totals.gross, fee.totals.vat) == (
        InvoiceStatus.ISSUED,
        3500,
        3500,
        0,
    )
    assert [(line.kind, line.text, line.reference) for line in fee.lines] == [
        (LineKind.FEE, "Purregebyr (1)", f"dunning:{invoice.id}:reminder-1")
    ]
    assert fee.kid == reminder.fee_kid and fee.kid is not None and fee.kid != invoice.kid
    assert DEFAULT_KID_LAYOUT.parse(fee.kid).invoice_number == 2
    assert (fee.invoice_date, fee.due_date) == (date(2027, 1, 29), date(2027, 2, 12))
    lookup = services.documents.get(keys.kid_lookup(fee.kid), "LOOKUP")
    assert lookup is not None and lookup.target_pk == keys.invoice(fee.id).pk
    # ... and on the ledger: the customer owes the invoice and both fees
    ledger = account(services, invoice)
    assert ledger.balance == 29900 + 3500 + 3500
    assert sorted(item.charged for item in ledger.open.values()) == [3500, 3500, 29900]

    # The letters go out from their steps' events: queued until the notifications have sent them
    assert [letter.delivery for letter in services.dunning.service.case(invoice.id).letters] == [
        "queued",
        "queued",
    ]
    send_dunning_messages(services)
    # One reminder and one notice went out, in Norwegian, with the amount to pay to the invoice's KID
    mail = sent_mail()
    assert [key for key, _ in mail] == [f"dunning:{invoice.id}:reminder-1", f"dunning:{invoice.id}:notice"]
    assert [message["Subject"] for _, message in mail] == [
        "Påminnelse: faktura 1 er ikke betalt",
        "Inkassovarsel for faktura 1",
    ]
    assert "Å betale: 334,00\xa0kr (herav purregebyr 35,00\xa0kr)" in plain_text(mail[0][1])
    assert "Ny betalingsfrist: 12. februar 2027" in plain_text(mail[0][1])
    assert f"KID: {invoice.kid}" in plain_text(mail[0][1])
    assert "Å betale: 369,00\xa0kr (herav gebyr for inkassovarsel 35,00\xa0kr)" in plain_text(mail[1][1])
    assert "Betalingsfrist: 26. februar 2027" in plain_text(mail[1][1])
    marker = services.documents.get_document(*_marker(f"dunning:{invoice.id}:notice"), SentNotification)
    assert marker is not None and marker.status == "sent" and marker.language == "nb"
    letters = services.dunning.service.case(invoice.id).letters
    assert [letter.delivery for letter in letters] == ["sent", "sent"]

    # The agency gets the claim with everything it needs
    exported = dunned.handoff(date(2027, 2, 26), invoice.id)
    assert (exported["format"], exported["claims_count"], exported["shard"]) == (
        "abo.dunning.handoff/1",
        1,
        dunning_shard(invoice.id),
    )
    [group] = exported["creditors"]
    assert group["creditor"]["organization_number"] == "974760673"
    assert group["creditor"]["name"] == "Avishuset Nord AS"
    [claim] = group["claims"]
    assert (claim["invoice_number"], claim["kid"], claim["due_date"]) == (1, invoice.kid, "2027-01-15")
    assert (claim["original_amount"], claim["principal_open"], claim["fees_open"]) == (29900, 29900, 7000)
    assert [(f["kind"], f["number"], f["amount"], f["open"]) for f in claim["fees"]] == [
        ("reminder", 2, 3500, 3500),
        ("collection_notice", 3, 3500, 3500),
    ]
    # No statutory rate is encoded for 2027 yet: the interest is left to the agency, with the reason
    assert claim["interest"]["amount"] is None and "NO" in claim["interest"]["reason"]
    assert claim["total_claim"] == 36900
    assert claim["reminders"] == [{"sent_on": "2027-01-29", "deadline": "2027-02-12", "fee": 3500}]
    assert claim["collection_notice"] == {"sent_on": "2027-02-12", "deadline": "2027-02-26", "fee": 3500}
    assert claim["debtor"]["name"] == "Kari Nordmann"
    assert claim["debtor"]["email"] == "kari@example.no"
    assert claim["debtor"]["type"] == "person"


def _marker(key: str) -> tuple[str, str]:
    found = marker_keys(key)
    return found.pk, found.sk


def test_a_payment_after_the_first_reminder_stops_dunning_and_settles_the_fee(
    dunned: World, services: Services
) -> None:
    invoice = dunned.order("ola@example.no")
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 31))
    send_dunning_messages(services)
    [letter] = dunned.case(invoice.id).letters
    assert (letter.sent_on, letter.amount) == (date(2027, 1, 29), 33400)
    # The customer pays what the reminder asks for, with the invoice's own KID
    paid = services.ledger.record_payment(
        IncomingPayment(
            source="test",
            source_reference="pay-1",
            method=IncomingMethod.GIRO,
            amount=33400,
            currency=Currency.NOK,
            paid_on=date(2027, 2, 2),
            kid=invoice.kid,
            kid_valid=True,
        )
    )
    assert letter.fee_invoice_id is not None
    assert sorted(paid.became_paid) == sorted([invoice.id, letter.fee_invoice_id])
    dunned.run_days(date(2027, 2, 1), date(2027, 3, 10))
    case = dunned.case(invoice.id)
    assert (case.status, case.closed_reason, case.next_on) == (CaseStatus.CLOSED, "paid", None)
    assert list(case.done) == [f"dunning:{invoice.id}:reminder-1"]
    assert (dunned.invoice(invoice.id).status, dunned.invoice(letter.fee_invoice_id or "").status) == (
        InvoiceStatus.PAID,
        InvoiceStatus.PAID,
    )
    ledger = account(services, invoice)
    assert (ledger.balance, ledger.credit, ledger.open) == (0, 0, {})
    assert [key for key, _ in sent_mail()] == [f"dunning:{invoice.id}:reminder-1"]


def test_a_failed_card_charge_is_retried_then_reminded(dunned: World, services: Services) -> None:
    invoice = dunned.order("kort@example.no", method="card")
    assert (invoice.payment_method, invoice.due_date) == (PaymentMethod.CARD, date(2027, 1, 1))
    failed_at = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    case = dunned.dunning.service.record_failed_charge(invoice.id, PaymentMethod.CARD, "declined", failed_at)
    assert (case.failed_charge_on, case.next_on) == (date(2027, 1, 1), date(2027, 1, 4))
    # A second failure (the same charge reported again) changes nothing
    again = dunned.dunning.service.record_failed_charge(invoice.id, PaymentMethod.CARD, "declined", failed_at)
    assert again == dunned.case(invoice.id)
    # The customer is told by the charge's payment.failed (recorded by the payments with the failure)
    record_payment_failed(services, invoice, "charge-0", failed_at)
    send_dunning_messages(services)
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 20))
    send_dunning_messages(services)
    case = dunned.case(invoice.id)
    assert case.done == {
        f"dunning:{invoice.id}:retry-1": date(2027, 1, 4),  # the plan's retry days: 3, 5, 7
        f"dunning:{invoice.id}:retry-2": date(2027, 1, 6),
        f"dunning:{invoice.id}:retry-3": date(2027, 1, 8),
        f"dunning:{invoice.id}:reminder-1": date(2027, 1, 15),  # then the reminder, 14 days after due
    }
    requests = [
        services.documents.get_document(
            retry_request_keys(invoice.id, n).pk, retry_request_keys(invoice.id, n).sk, CardRetryRequest
        )
        for n in (1, 2, 3)
    ]
    assert [(r.attempt, r.due_on, r.amount) for r in requests if r is not None] == [
        (1, date(2027, 1, 4), 29900),
        (2, date(2027, 1, 6), 29900),
        (3, date(2027, 1, 8), 29900),
    ]
    assert case.next_on == date(2027, 1, 29)
    mail = sent_mail()
    assert [key for key, _ in mail] == [
        f"dunning:{invoice.id}:failed-charge",
        f"dunning:{invoice.id}:reminder-1",
    ]
    # The failure's message tells when the card is tried again: the plan's first retry day
    assert "Vi prøver igjen 4. januar 2027." in plain_text(mail[0][1])


def record_payment_failed(services: Services, invoice: Invoice, attempt: str, at: datetime) -> None:
    """Record the ``payment.failed`` the payments record with a declined card charge of ``invoice``."""
    event = payment_failed_event(invoice, attempt, invoice.open_amount, "card", "declined", at)
    services.documents.write([], [], events=[event])


def test_a_vipps_failure_goes_straight_to_the_plan(dunned: World, services: Services) -> None:
    invoice = dunned.order("vipps@example.no")
    case = dunned.dunning.service.record_failed_charge(
        invoice.id, PaymentMethod.VIPPS, "expired", datetime(2027, 1, 16, 9, 0, tzinfo=UTC)
    )
    assert (case.failed_charge_on, case.next_on) == (date(2027, 1, 16), date(2027, 1, 29))
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 30))
    assert list(dunned.case(invoice.id).done) == [f"dunning:{invoice.id}:reminder-1"]


def test_running_every_day_twice_takes_each_step_once(dunned: World, services: Services) -> None:
    invoices = [dunned.order(f"kunde{n}@example.no") for n in range(3)]
    day = date(2027, 1, 2)
    while day <= date(2027, 3, 1):
        dunned.run(day, every_shard=day.day % 7 == 0)
        dunned.run(day)
        day = date.fromordinal(day.toordinal() + 1)
    for invoice in invoices:
        assert dunned.case(invoice.id).status is CaseStatus.HANDED_OVER
    fee_numbers = sorted(
        letter.fee_invoice_number or 0 for invoice in invoices for letter in dunned.case(invoice.id).letters
    )
    assert fee_numbers == [4, 5, 6, 7, 8, 9]  # invoices 1-3 are the orders': numbered without gaps
    send_dunning_messages(services)
    keys_sent = [key for key, _ in sent_mail()]
    assert len(keys_sent) == 6 and len(set(keys_sent)) == 6


def test_each_step_records_its_events_once(dunned: World, services: Services) -> None:
    invoice = dunned.order("hendelser@example.no")
    # Every day run twice, the second time as a rerun of a finished day
    day = date(2027, 1, 2)
    while day <= date(2027, 3, 1):
        dunned.run(day)
        dunned.run(day)
        day += timedelta(days=1)
    reminder, notice = dunned.case(invoice.id).letters
    common = {"invoice_id": invoice.id, "customer_id": invoice.customer_id}
    assert dunning_events(invoice.id) == [
        ("invoice.overdue", {**common, "due_date": "2027-01-15", "open_amount": nok(29900)}),
        (
            "dunning.step_taken",
            {
                **common,
                "step": "reminder-1",
                "step_number": 1,
                "fee": nok(3500),
                "fee_invoice_id": reminder.fee_invoice_id,
                "action": "reminder",
            },
        ),
        (
            "dunning.step_taken",
            {
                **common,
                "step": "notice",
                "step_number": 2,
                "fee": nok(3500),
                "fee_invoice_id": notice.fee_invoice_id,
                "action": "collection_notice",
            },
        ),
        (
            "dunning.step_taken",
            {
                **common,
                "step": "hand-off",
                "step_number": 3,
                "fee": None,
                "fee_invoice_id": None,
                "action": "hand_off",
            },
        ),
    ]
    # The fee documents are issued with their events, in the seller's books
    fees = [
        event
        for event in recorded_events()
        if event.type is EventType.INVOICE_ISSUED and event.data["document_kind"] == "fee"
    ]
    assert sorted(
        (e.data["invoice_id"], e.data["number"], e.data["total"]["amount"]) for e in fees
    ) == sorted([(reminder.fee_invoice_id, 2, 3500), (notice.fee_invoice_id, 3, 3500)])
    assert {event.legal_entity_id for event in fees} == {invoice.legal_entity_id}


def test_card_retries_are_no_steps_and_the_reminder_makes_the_invoice_overdue(
    dunned: World, services: Services
) -> None:
    invoice = dunned.order("trekk@example.no", method="card")
    failed_at = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
    dunned.dunning.service.record_failed_charge(invoice.id, PaymentMethod.CARD, "declined", failed_at)
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 10))
    assert len(dunned.case(invoice.id).done) == 3  # three retries, before the due date's reminder
    assert dunning_events(invoice.id) == []
    dunned.run_days(date(2027, 1, 11), date(2027, 1, 20))
    assert [
        (kind, data.get("step"), data.get("step_number")) for kind, data in dunning_events(invoice.id)
    ] == [
        ("invoice.overdue", None, None),
        ("dunning.step_taken", "reminder-1", 1),
    ]


def test_a_credit_note_stops_dunning(dunned: World, services: Services) -> None:
    invoice = dunned.order("kreditert@example.no")
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 20))
    services.credit_notes.issue(invoice.id, None)
    dunned.run_days(date(2027, 1, 21), date(2027, 3, 1))
    case = dunned.case(invoice.id)
    assert (case.status, case.closed_reason, case.done) == (CaseStatus.CLOSED, "credited", {})
    assert sent_mail() == []


def test_a_disputed_invoice_waits_and_then_continues(dunned: World, services: Services) -> None:
    invoice = dunned.order("uenig@example.no")
    dunned.run_days(date(2027, 1, 2), date(2027, 1, 29))
    disputed = dunned.dunning.service.dispute(invoice.id, True, "never received the paper")
    assert (disputed.status, disputed.next_on) == (CaseStatus.DISPUTED, date(2027, 2, 12))
    dunned.run_days(date(2027, 1, 30), date(2027, 2, 20))
    assert list(dunned.case(invoice.id).done) == [f"dunning:{invoice.id}:reminder-1"]
    # Lifted on 1 January (the clock's day), it is back in the index; the notice comes on its own day
    lifted = dunned.dunning.service.dispute(invoice.id, False, None)
    assert lifted.status is CaseStatus.ACTIVE
    assert lifted.next_on == date(2027, 1, 2)
    dunned.run_days(date(2027, 1, 2), date(2027, 2, 25))
    assert dunned.case(invoice.id).done[f"dunning:{invoice.id}:notice"] == date(2027, 2, 12)
