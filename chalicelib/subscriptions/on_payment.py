"""What a paid subscription invoice grants: access to its products until its period ends. Runs inside the
ledger's transaction that marks the invoice paid (a ledger paid hook), so access and payment agree."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.billing.models import Invoice, LineKind
from chalicelib.ledger.posting import LedgerWrites
from chalicelib.subscriptions.access import AccessService


def access_on_payment(access: AccessService, invoices: Sequence[Invoice]) -> LedgerWrites:
    """Grant each paid subscription invoice's products until its period's end (exclusive)."""
    grants = [
        (invoice.customer_id, line.product_id, invoice.subscription_id, invoice.period.end)
        for invoice in invoices
        if invoice.subscription_id and invoice.period
        for line in invoice.lines
        if line.kind == LineKind.SUBSCRIPTION and line.product_id
    ]
    if not grants:
        return LedgerWrites()
    creates, replaces = access.grant_many(grants)
    return LedgerWrites(creates=creates, replaces=replaces)
