"""The ledger's reports: a customer's ledger (balance, open items, a page of entries) and the incoming
payments of a period with their totals (from the per-day tallies: one query per month)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.errors import FieldError, NotFoundError, ValidationFailedError
from chalicelib.ledger.models import Account, IncomingMethod, LedgerEntry, Payment, PaymentStatus
from chalicelib.ledger.payment_items import invalid
from chalicelib.ledger.posting import TallyItem
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import MAX_PAGE, DocumentItem, DocumentStore, decode_cursor, encode_cursor


@dataclass(frozen=True)
class LedgerView:
    """A customer's account with one seller in one currency, and a page of its entries."""

    account: Account
    accounts: list[Account]
    entries: list[LedgerEntry]
    next_cursor: str | None


@dataclass(frozen=True)
class PaymentTotal:
    """Count and sum of payments in one currency."""

    currency: Currency
    count: int
    amount: int


@dataclass(frozen=True)
class PaymentsReport:
    """A page of payments and the totals of the whole selection."""

    items: list[Payment]
    totals: list[PaymentTotal]
    next_cursor: str | None


class LedgerReports:
    """Reads customers' ledgers and the payments report."""

    def __init__(self, store: DocumentStore) -> None:
        self._store = store

    def accounts(self, customer_id: str) -> list[Account]:
        """Every account of a customer (one query)."""
        return customer_accounts(self._store, customer_id)

    def ledger(
        self,
        customer_id: str,
        legal_entity_id: str | None,
        currency: Currency | None,
        limit: int,
        cursor: str | None,
    ) -> LedgerView:
        """A customer's balance, open items and a page of entries, oldest first."""
        if self._store.get(keys.customer(customer_id).pk, keys.customer(customer_id).sk) is None:
            raise NotFoundError(f"no customer {customer_id}")
        accounts = self.accounts(customer_id)
        chosen = [
            a
            for a in accounts
            if (legal_entity_id is None or a.legal_entity_id == legal_entity_id)
            and (currency is None or a.currency == currency)
        ]
        if not chosen:
            empty = Account(
                customer_id=customer_id,
                legal_entity_id=legal_entity_id or "",
                currency=currency or Currency.NOK,
            )
            return LedgerView(empty, accounts, [], None)
        account = chosen[0]
        page = self._store.query_partition(
            f"CUSTOMER#{customer_id}",
            keys.ledger_entries_prefix(account.legal_entity_id, account.currency.value),
            LedgerEntry,
            limit,
            cursor,
        )
        return LedgerView(account, accounts, page.items, page.next_cursor)

    def payments(
        self,
        start: date,
        end: date,
        method: IncomingMethod | None,
        status: PaymentStatus | None,
        limit: int,
        cursor: str | None,
    ) -> PaymentsReport:
        """Payments paid from ``start`` to ``end`` (inclusive), a page at a time, and the totals of the
        whole selection (from the per-day totals: one query per month)."""
        months = _months(start, end)
        month_index, inner = _decode_report_cursor(cursor, len(months))
        low, high = f"{start.isoformat()}#", f"{end.isoformat()}#~"
        items: list[Payment] = []
        next_cursor: str | None = None
        for index in range(month_index, len(months)):
            results = DocumentItem.gsi1.query(
                keys.payments_month(months[index]),
                DocumentItem.gsi1sk.between(low, high),
                last_evaluated_key=decode_cursor(inner, ("gsi1pk", "gsi1sk"))
                if index == month_index
                else None,
            )
            for item in results:
                if item.doc is None:
                    continue
                payment = item.document(Payment)
                if (method is None or payment.method == method) and (
                    status is None or payment.status == status
                ):
                    items.append(payment)
                if len(items) >= limit:
                    break
            if len(items) >= limit:
                last = encode_cursor(results.last_evaluated_key)
                if last is not None:
                    next_cursor = _encode_report_cursor(index, last)
                elif index + 1 < len(months):
                    next_cursor = _encode_report_cursor(index + 1, None)
                break
        return PaymentsReport(items, self._totals(months, low, high, method, status), next_cursor)

    def _totals(
        self,
        months: list[date],
        low: str,
        high: str,
        method: IncomingMethod | None,
        status: PaymentStatus | None,
    ) -> list[PaymentTotal]:
        sums: dict[str, tuple[int, int]] = {}
        for month in months:
            for row in TallyItem.query(f"PAYTOTAL#{month:%Y-%m}", TallyItem.sk.between(low, high)):
                _, currency, row_method, row_status = row.sk.split("#")
                if method is not None and row_method != method.value:
                    continue
                if status is not None and row_status != status.value:
                    continue
                count, amount = sums.get(currency, (0, 0))
                sums[currency] = (count + int(row.quantity or 0), amount + int(row.total or 0))
        return [PaymentTotal(Currency(c), n, a) for c, (n, a) in sorted(sums.items())]


def customer_accounts(store: DocumentStore, customer_id: str) -> list[Account]:
    """Every account of a customer (one query)."""
    page = store.query(f"CUSTOMER#{customer_id}", keys.LEDGER_ACCOUNT_PREFIX, limit=MAX_PAGE)
    return [item.document(Account) for item in page.items if item.doc is not None]


def _months(start: date, end: date) -> list[date]:
    if end < start:
        raise invalid("to", "the period ends before it starts", "range")
    months: list[date] = []
    current = start.replace(day=1)
    while current <= end:
        months.append(current)
        current = (
            current.replace(year=current.year + 1, month=1)
            if current.month == 12
            else current.replace(month=current.month + 1)
        )
    if len(months) > 36:
        raise invalid("from", "ask for at most three years at a time", "range")
    return months


def _encode_report_cursor(month: int, inner: str | None) -> str:
    raw = json.dumps({"m": month, "k": inner}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_report_cursor(cursor: str | None, months: int) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    try:
        value: Any = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        month, inner = int(value["m"]), value["k"]
        if not 0 <= month < months or not (inner is None or isinstance(inner, str)):
            raise ValueError("out of range")
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationFailedError(
            "the cursor is not one this API gave out",
            [FieldError("cursor", "invalid cursor", "invalid", "query")],
        ) from error
    return month, inner
