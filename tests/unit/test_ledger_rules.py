"""The ledger's pure rules: examples a billing person can read, and property tests over long random
sequences that check money is conserved and every balance equals the sum of its open items."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib.ledger import rules
from chalicelib.ledger.models import Account, EntryKind, LedgerSettings, OverpaymentRule
from chalicelib.ledger.rules import Draft, InvoiceFacts, InvoiceState, LedgerRuleError
from chalicelib.money import Currency

NOW = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
DUE = date(2027, 1, 24)
CREDIT = LedgerSettings()


def account() -> Account:
    return Account(customer_id="cus_1", legal_entity_id="ent_1", currency=Currency.NOK)


def facts(ident: str, gross: int, number: int = 1, **extra: bool) -> InvoiceFacts:
    return InvoiceFacts(invoice_id=ident, number=number, due_date=DUE, gross=gross, **extra)


def issued(*grosses: int, settings: LedgerSettings = CREDIT) -> Account:
    current = account()
    for number, gross in enumerate(grosses, 1):
        current = rules.advance(
            rules.issue_invoice(current, facts(f"inv_{number}", gross, number), settings, NOW)
        )
    return current


def kinds(posting: rules.Posting) -> list[tuple[EntryKind, int]]:
    return [(d.kind, d.amount) for d in posting.entries]


def test_an_issued_invoice_is_an_open_item_and_the_balance() -> None:
    posting = rules.issue_invoice(account(), facts("inv_1", 29900), CREDIT, NOW)
    assert kinds(posting) == [(EntryKind.INVOICE_ISSUED, 29900)]
    assert posting.account.balance == 29900
    assert posting.account.open["inv_1"].open == 29900


def test_a_payment_with_the_exact_amount_pays_the_invoice() -> None:
    posting = rules.apply_payment(issued(29900), 29900, "pay_1", CREDIT, NOW, facts("inv_1", 29900))
    assert kinds(posting) == [(EntryKind.PAYMENT_RECEIVED, 29900), (EntryKind.PAYMENT_APPLIED, 29900)]
    assert posting.account.balance == 0
    assert posting.became_paid == ["inv_1"]
    assert posting.account.open == {}


def test_an_overpayment_becomes_credit_that_the_next_invoice_uses() -> None:
    # Given an invoice of 299 kr paid with 400 kr
    paid = rules.apply_payment(issued(29900), 40000, "pay_1", CREDIT, NOW, facts("inv_1", 29900))
    assert paid.account.credit == 10100 and paid.account.balance == -10100
    assert paid.to_credit == 10100
    # When the next invoice of 299 kr is issued
    nxt = rules.issue_invoice(rules.advance(paid), facts("inv_2", 29900, 2), CREDIT, NOW)
    # Then the credit pays 101 kr of it at once
    assert kinds(nxt) == [(EntryKind.INVOICE_ISSUED, 29900), (EntryKind.PAYMENT_APPLIED, 10100)]
    assert nxt.account.open["inv_2"].open == 19800
    assert nxt.account.balance == 19800 and nxt.account.credit == 0


def test_an_overpayment_is_refunded_when_the_seller_says_so() -> None:
    refund = LedgerSettings(overpayment=OverpaymentRule.REFUND)
    posting = rules.apply_payment(
        issued(29900, settings=refund), 40000, "pay_1", refund, NOW, facts("inv_1", 29900)
    )
    assert kinds(posting)[-1] == (EntryKind.REFUND, 10100)
    assert posting.account.credit == 0 and posting.account.balance == 0
    assert posting.refunded == 10100


def test_an_underpayment_leaves_the_rest_open() -> None:
    posting = rules.apply_payment(issued(29900), 29000, "pay_1", CREDIT, NOW, facts("inv_1", 29900))
    assert posting.account.open["inv_1"].open == 900
    assert posting.invoices["inv_1"].state == InvoiceState.ISSUED
    assert posting.became_paid == []


def test_an_underpayment_within_5_kr_settles_the_invoice_and_records_the_difference() -> None:
    tolerance = LedgerSettings(tolerance_amount=500)
    posting = rules.apply_payment(issued(29900), 29500, "pay_1", tolerance, NOW, facts("inv_1", 29900))
    assert kinds(posting)[-1] == (EntryKind.WRITE_OFF, 400)
    assert posting.became_paid == ["inv_1"]
    assert posting.account.balance == 0
    assert posting.account.settled["inv_1"].written_off == 400


def test_a_percentage_tolerance_is_a_share_of_the_invoice_rounded_down() -> None:
    one_percent = LedgerSettings(tolerance_basis_points=100)
    assert rules.tolerance_for(29950, one_percent) == 299
    assert rules.apply_payment(issued(29950), 29651, "p", one_percent, NOW, facts("inv_1", 29950)).became_paid
    assert not rules.apply_payment(
        issued(29950), 29650, "p", one_percent, NOW, facts("inv_1", 29950)
    ).became_paid


def test_the_excess_pays_the_customers_other_open_invoices_oldest_first() -> None:
    current = issued(10000, 20000, 30000)
    posting = rules.apply_payment(current, 35000, "pay_1", CREDIT, NOW, facts("inv_2", 20000, 2))
    assert [(a.invoice_id, a.amount) for a in posting.allocations] == [
        ("inv_2", 20000),
        ("inv_1", 10000),
        ("inv_3", 5000),
    ]
    assert sorted(posting.became_paid) == ["inv_1", "inv_2"]
    assert posting.account.open["inv_3"].open == 25000


def test_a_payment_to_a_credited_invoice_becomes_credit() -> None:
    current = rules.advance(
        rules.credit_invoice(issued(29900), facts("inv_1", 29900), 29900, "cn_1", CREDIT, NOW)
    )
    assert current.balance == 0
    posting = rules.apply_payment(current, 29900, "pay_1", CREDIT, NOW, facts("inv_1", 29900, credited=True))
    assert posting.account.credit == 29900 and posting.account.balance == -29900
    assert posting.allocations == ()


def test_a_credit_note_on_a_paid_invoice_releases_the_money_as_credit() -> None:
    paid = rules.advance(
        rules.apply_payment(issued(29900), 29900, "pay_1", CREDIT, NOW, facts("inv_1", 29900))
    )
    posting = rules.credit_invoice(paid, facts("inv_1", 29900, settled=True), 10000, "cn_1", CREDIT, NOW)
    assert kinds(posting) == [(EntryKind.CREDIT_NOTE, 10000), (EntryKind.PAYMENT_APPLIED, -10000)]
    assert posting.account.credit == 10000 and posting.account.balance == -10000
    with pytest.raises(LedgerRuleError, match="more than the invoice charged"):
        rules.credit_invoice(rules.advance(posting), facts("inv_1", 29900), 20000, "cn_2", CREDIT, NOW)


def test_a_fully_credited_unpaid_invoice_is_credited_not_paid() -> None:
    posting = rules.credit_invoice(issued(29900), facts("inv_1", 29900), 29900, "cn_1", CREDIT, NOW)
    assert posting.invoices["inv_1"].state == InvoiceState.CREDITED
    assert posting.became_paid == []


def test_a_reversal_takes_the_money_back_and_reopens_the_invoice() -> None:
    paid = rules.advance(
        rules.apply_payment(issued(29900), 29900, "pay_1", CREDIT, NOW, facts("inv_1", 29900))
    )
    posting = rules.apply_payment(paid, -29900, "pay_2", CREDIT, NOW, facts("inv_1", 29900, settled=True))
    assert kinds(posting) == [(EntryKind.PAYMENT_RECEIVED, -29900), (EntryKind.PAYMENT_APPLIED, -29900)]
    assert posting.account.open["inv_1"].open == 29900
    assert posting.invoices["inv_1"].state == InvoiceState.ISSUED


def test_refunds_and_moves_to_suspense_cannot_exceed_the_credit() -> None:
    current = rules.advance(rules.apply_payment(account(), 5000, "pay_1", CREDIT, NOW))
    assert current.credit == 5000
    with pytest.raises(LedgerRuleError):
        rules.refund_credit(current, 5001, "ref_1", NOW)
    assert rules.refund_credit(current, 5000, "ref_1", NOW).account.balance == 0
    assert rules.move_to_suspense(current, 2000, "sus_1", "not theirs", NOW).account.credit == 3000


def test_entries_are_numbered_with_running_balances() -> None:
    before = issued(29900)
    posting = rules.apply_payment(before, 40000, "pay_1", CREDIT, NOW, facts("inv_1", 29900))
    entries = rules.number_entries(before, posting, date(2027, 1, 10), NOW)
    assert [e.seq for e in entries] == [2, 3]
    assert [e.balance_after for e in entries] == [29900 - 40000, -10100]
    assert rules.advance(posting).next_seq == 4


# ---- properties ---------------------------------------------------------------------------------------

CUSTOMERS = ("cus_a", "cus_b")


class LedgerMachine(RuleBasedStateMachine):
    """Random sequences of everything that can happen to two customers' accounts and a suspense
    account; after every step money is conserved and balances equal their open items."""

    def __init__(self) -> None:
        super().__init__()
        self.settings = LedgerSettings()
        self.accounts = {
            c: Account(customer_id=c, legal_entity_id="ent", currency=Currency.NOK) for c in CUSTOMERS
        }
        self.entries: dict[str, list[Draft]] = {c: [] for c in CUSTOMERS}
        self.invoices: dict[str, tuple[str, InvoiceFacts]] = {}
        self.states: dict[str, InvoiceState] = {}
        self.suspense: dict[str, int] = {}
        self.received = 0
        self.serial = 0

    @initialize(
        chosen=st.builds(
            LedgerSettings,
            tolerance_amount=st.sampled_from([0, 100, 500]),
            tolerance_basis_points=st.sampled_from([0, 50, 200]),
            overpayment=st.sampled_from(list(OverpaymentRule)),
            excess_to_open_items=st.booleans(),
            apply_credit_to_new_invoices=st.booleans(),
        )
    )
    def choose_settings(self, chosen: LedgerSettings) -> None:
        self.settings = chosen

    def _post(self, customer: str, posting: rules.Posting) -> None:
        self.entries[customer].extend(posting.entries)
        self.accounts[customer] = rules.advance(posting)
        for ident, change in posting.invoices.items():
            self.states[ident] = change.state

    def _next(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}_{self.serial}"

    def _facts(self, ident: str) -> InvoiceFacts:
        _customer, base = self.invoices[ident]
        state = self.states.get(ident, InvoiceState.ISSUED)
        return InvoiceFacts(
            invoice_id=ident,
            number=base.number,
            due_date=base.due_date,
            gross=base.gross,
            settled=state == InvoiceState.PAID,
            credited=state == InvoiceState.CREDITED,
        )

    @rule(customer=st.sampled_from(CUSTOMERS), gross=st.integers(0, 100_000), days=st.integers(0, 60))
    def issue(self, customer: str, gross: int, days: int) -> None:
        ident = self._next("inv")
        base = InvoiceFacts(
            ident, self.serial, date(2027, 1, 1).fromordinal(date(2027, 1, 1).toordinal() + days), gross
        )
        self.invoices[ident] = (customer, base)
        self._post(customer, rules.issue_invoice(self.accounts[customer], base, self.settings, NOW))

    @precondition(lambda self: self.invoices)
    @rule(data=st.data(), how=st.sampled_from(["exact", "under", "over", "any"]))
    def pay(self, data: st.DataObject, how: str) -> None:
        ident = data.draw(st.sampled_from(sorted(self.invoices)))
        customer, base = self.invoices[ident]
        item = self.accounts[customer].open.get(ident)
        open_amount = item.open if item else base.gross
        amount = {
            "exact": open_amount,
            "under": max(open_amount - data.draw(st.integers(1, 1000)), 1),
            "over": open_amount + data.draw(st.integers(1, 50_000)),
            "any": data.draw(st.integers(1, 200_000)),
        }[how]
        self.received += amount
        posting = rules.apply_payment(
            self.accounts[customer], amount, self._next("pay"), self.settings, NOW, self._facts(ident)
        )
        self._post(customer, posting)

    @precondition(lambda self: self.invoices)
    @rule(data=st.data(), amount=st.integers(1, 100_000))
    def reverse(self, data: st.DataObject, amount: int) -> None:
        ident = data.draw(st.sampled_from(sorted(self.invoices)))
        customer, _ = self.invoices[ident]
        self.received -= amount
        posting = rules.apply_payment(
            self.accounts[customer], -amount, self._next("pay"), self.settings, NOW, self._facts(ident)
        )
        self._post(customer, posting)

    @rule(amount=st.integers(1, 100_000))
    def pay_unknown_kid(self, amount: int) -> None:
        self.received += amount
        self.suspense[self._next("sus")] = amount

    @precondition(lambda self: self.suspense)
    @rule(data=st.data(), customer=st.sampled_from(CUSTOMERS), to_invoice=st.booleans())
    def assign_suspense(self, data: st.DataObject, customer: str, to_invoice: bool) -> None:
        ident = data.draw(st.sampled_from(sorted(self.suspense)))
        amount = self.suspense.pop(ident)
        own = sorted(i for i, (c, _) in self.invoices.items() if c == customer)
        invoice = self._facts(data.draw(st.sampled_from(own))) if to_invoice and own else None
        posting = rules.apply_payment(
            self.accounts[customer], amount, ident, self.settings, NOW, invoice, from_suspense=ident
        )
        self._post(customer, posting)

    @precondition(lambda self: self.invoices)
    @rule(data=st.data())
    def credit_note(self, data: st.DataObject) -> None:
        ident = data.draw(st.sampled_from(sorted(self.invoices)))
        customer, _base = self.invoices[ident]
        account = self.accounts[customer]
        item = account.open.get(ident) or account.settled.get(ident)
        creditable = (item.charged - item.credited) if item else 0
        if creditable <= 0:
            return
        amount = data.draw(st.integers(1, creditable))
        posting = rules.credit_invoice(
            account, self._facts(ident), amount, self._next("cn"), self.settings, NOW
        )
        self._post(customer, posting)

    @rule(customer=st.sampled_from(CUSTOMERS), data=st.data())
    def refund(self, customer: str, data: st.DataObject) -> None:
        credit = self.accounts[customer].credit
        if credit <= 0:
            return
        posting = rules.refund_credit(self.accounts[customer], data.draw(st.integers(1, credit)), "ref", NOW)
        self._post(customer, posting)

    @rule(customer=st.sampled_from(CUSTOMERS), data=st.data())
    def move_to_suspense(self, customer: str, data: st.DataObject) -> None:
        credit = self.accounts[customer].credit
        if credit <= 0:
            return
        amount = data.draw(st.integers(1, credit))
        ident = self._next("sus")
        self._post(
            customer, rules.move_to_suspense(self.accounts[customer], amount, ident, "not theirs", NOW)
        )
        self.suspense[ident] = amount

    @rule(customer=st.sampled_from(CUSTOMERS), data=st.data(), fee=st.booleans())
    def fee_or_write_off(self, customer: str, data: st.DataObject, fee: bool) -> None:
        open_items = sorted(self.accounts[customer].open)
        if not open_items:
            return
        ident = data.draw(st.sampled_from(open_items))
        account = self.accounts[customer]
        if fee:
            posting = rules.charge_fee(
                account, ident, data.draw(st.integers(1, 7000)), "fee", "Purregebyr", NOW
            )
        else:
            posting = rules.write_off(
                account, ident, data.draw(st.integers(1, account.open[ident].open)), "", NOW
            )
        self._post(customer, posting)

    def _sum(self, customer: str, *wanted: EntryKind) -> int:
        return sum(d.amount for d in self.entries[customer] if d.kind in wanted)

    @invariant()
    def balance_is_the_sum_of_open_items_and_of_the_entries(self) -> None:
        for customer, account in self.accounts.items():
            assert account.balance == sum(i.open for i in account.open.values()) - account.credit
            assert account.balance == sum(d.balance_change for d in self.entries[customer])
            for item in [*account.open.values(), *account.settled.values()]:
                assert item.open == item.charged - item.paid - item.credited - item.written_off
                assert (item.open > 0) == (item.invoice_id in account.open)
                assert item.paid >= 0 and item.credited >= 0 and item.written_off >= 0

    @invariant()
    def money_is_conserved(self) -> None:
        held = 0
        for customer, account in self.accounts.items():
            came_in = self._sum(customer, EntryKind.PAYMENT_RECEIVED, EntryKind.MOVED_FROM_SUSPENSE)
            went_out = self._sum(customer, EntryKind.MOVED_TO_SUSPENSE)
            applied = self._sum(customer, EntryKind.PAYMENT_APPLIED)
            refunded = self._sum(customer, EntryKind.REFUND)
            assert came_in - went_out == applied + account.credit + refunded
            held += applied + account.credit + refunded
        # Every øre received is applied, held as credit, refunded or in suspense.
        assert self.received == held + sum(self.suspense.values())

    @invariant()
    def applied_money_per_invoice_is_what_its_item_says_was_paid(self) -> None:
        for customer, account in self.accounts.items():
            for item in [*account.open.values(), *account.settled.values()]:
                applied = sum(
                    d.amount
                    for d in self.entries[customer]
                    if d.kind == EntryKind.PAYMENT_APPLIED and d.invoice_id == item.invoice_id
                )
                assert applied == item.paid


LedgerMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=80, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_ledger_conserves_money = LedgerMachine.TestCase
