"""What a paid subscription invoice grants: access to its products until its period ends. Runs inside the
ledger's transaction that marks the invoice paid (a ledger paid hook), so access and payment agree, and
``access.granted`` is recorded in that transaction too."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.billing.models import Invoice, LineKind
from chalicelib.ledger.posting import LedgerWrites
from chalicelib.subscriptions.access import AccessService
from chalicelib.subscriptions.events import access_granted, grants_of


def access_on_payment(access: AccessService, invoices: Sequence[Invoice]) -> LedgerWrites:
    """Grant each paid subscription invoice's products until its period's end (exclusive), with an
    ``access.granted`` for each invoice whose payment gave access that was not there yet."""
    granting = [
        (
            invoice,
            [
                line.product_id
                for line in invoice.lines
                if line.kind == LineKind.SUBSCRIPTION and line.product_id
            ],
        )
        for invoice in invoices
        if invoice.subscription_id and invoice.period
    ]
    grants = [
        (invoice.customer_id, product_id, invoice.subscription_id, invoice.period.end)
        for invoice, product_ids in granting
        if invoice.subscription_id and invoice.period
        for product_id in product_ids
    ]
    if not grants:
        return LedgerWrites()
    creates, replaces = access.grant_many(grants)
    # Only the access items the grants changed (a grant already as long changes nothing, and says nothing).
    changed = {(grant.customer_id, grant.product_id) for grant in [*grants_of(creates), *grants_of(replaces)]}
    now = access.now()
    events = [
        access_granted(
            invoice.subscription_id,
            invoice.customer_id,
            invoice.legal_entity_id,
            invoice.period.start,
            [p for p in dict.fromkeys(product_ids) if (invoice.customer_id, p) in changed],
            now,
        )
        for invoice, product_ids in granting
        if invoice.subscription_id
        and invoice.period
        and any((invoice.customer_id, p) in changed for p in product_ids)
    ]
    return LedgerWrites(creates=creates, replaces=replaces, events=events)
