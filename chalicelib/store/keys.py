"""Where each kind of document lives in the main table, and the lookup entries that find it.

One function per kind keeps the key layout in one place: documents ``<KIND>#<id>``; lists under gsi1
partitions; lookups ``EMAIL#…``, ``ORG#…``, ``PHONE#…``, ``CUSTNO#…``, ``INVNO#…``, ``KID#…``.
"""

from __future__ import annotations

from datetime import date, datetime

from chalicelib.store.documents import Keys


def _listed(created_at: datetime, ident: str) -> str:
    return f"{created_at.isoformat()}#{ident}"


def legal_entity(ident: str, created_at: datetime | None = None) -> Keys:
    """A seller."""
    listed = ("ENTITIES", _listed(created_at, ident)) if created_at else None
    return Keys(f"ENTITY#{ident}", "ENTITY", gsi1=listed)


def product(ident: str, created_at: datetime | None = None) -> Keys:
    """A product."""
    return Keys(
        f"PRODUCT#{ident}", "PRODUCT", gsi1=("PRODUCTS", _listed(created_at, ident)) if created_at else None
    )


def plan(ident: str, created_at: datetime | None = None) -> Keys:
    """A plan."""
    return Keys(f"PLAN#{ident}", "PLAN", gsi1=("PLANS", _listed(created_at, ident)) if created_at else None)


def offer(ident: str, created_at: datetime | None = None) -> Keys:
    """An offer."""
    return Keys(
        f"OFFER#{ident}", "OFFER", gsi1=("OFFERS", _listed(created_at, ident)) if created_at else None
    )


def customer(ident: str) -> Keys:
    """A customer's profile."""
    return Keys(f"CUSTOMER#{ident}", "PROFILE")


def customer_change(customer_id: str, at: datetime, sequence: str) -> Keys:
    """One entry of a customer's change history."""
    return Keys(f"CUSTOMER#{customer_id}", f"HISTORY#{at.isoformat()}#{sequence}")


def customer_name_entry(customer_id: str, normalised_name: str) -> Keys:
    """The customer's entry in the name-prefix index (partition: first two letters)."""
    return Keys(
        f"CUSTOMER#{customer_id}",
        "NAME",
        gsi1=(f"CUSTNAME#{normalised_name[:2]}", f"{normalised_name}#{customer_id}"),
    )


def subscription(ident: str, customer_id: str | None = None, created_at: datetime | None = None) -> Keys:
    """A subscription, listed under its customer."""
    listed = (
        (f"CUSTOMER#{customer_id}", f"SUB#{_listed(created_at, ident)}")
        if customer_id and created_at
        else None
    )
    return Keys(f"SUB#{ident}", "SUB", gsi1=listed)


def plan_member(plan_id: str, subscription_id: str) -> Keys:
    """A subscription's membership of a plan (price changes rebuild these subscriptions' drafts)."""
    return Keys(f"PLAN#{plan_id}", f"SUB#{subscription_id}")


def agreement(ident: str) -> Keys:
    """A payment agreement."""
    return Keys(f"AGREEMENT#{ident}", "AGREEMENT")


def invoice(
    ident: str,
    customer_id: str | None = None,
    invoice_date: date | None = None,
    number_key: str | None = None,
) -> Keys:
    """An invoice or credit note, listed under its customer; issued ones are findable by number."""
    listed = (
        (f"CUSTOMER#{customer_id}", f"INV#{invoice_date.isoformat()}#{ident}")
        if customer_id and invoice_date
        else None
    )
    by_number = (number_key, ident) if number_key else None
    return Keys(f"INVOICE#{ident}", "INVOICE", gsi1=listed, gsi2=by_number)


def invoice_number_key(legal_entity_id: str, number: int) -> str:
    """The gsi2 partition that finds an invoice by its number."""
    return f"INVNO#{legal_entity_id}#{number}"


def order(ident: str) -> Keys:
    """An order."""
    return Keys(f"ORDER#{ident}", "ORDER")


def access(customer_id: str, product_id: str) -> Keys:
    """A customer's access to one product: the access check reads exactly this item."""
    return Keys(f"ACCESS#{customer_id}", f"PRODUCT#{product_id}")


def order_block(kind: str, value: str, ident: str | None = None, created_at: datetime | None = None) -> Keys:
    """A block on new orders by customer, e-mail, phone or organisation number (one per kind and value)."""
    listed = ("ORDERBLOCKS", _listed(created_at, ident)) if ident and created_at else None
    return Keys(f"BLOCK#{kind}#{value}", "BLOCK", gsi1=listed)


def order_block_by_id(ident: str) -> str:
    """Finds an order block by its id (for deleting it)."""
    return f"ORDERBLOCK#{ident}"


def fee(customer_id: str, ident: str) -> Keys:
    """A fee waiting for the customer's next invoice."""
    return Keys(f"CUSTOMER#{customer_id}", f"FEE#{ident}")


def email_lookup(email: str) -> str:
    """The e-mail partition: a person's entry (sk ``LOOKUP``) is unique; organisations, whose invoice
    address is often shared, have one entry each (sk ``CUSTOMER#<id>``)."""
    return f"EMAIL#{email}"


def email_entry(email: str, customer_id: str, unique: bool) -> Keys:
    """A customer's entry in its e-mail partition (see :func:`email_lookup`)."""
    return Keys(email_lookup(email), "LOOKUP" if unique else f"CUSTOMER#{customer_id}")


def org_lookup(country: str, number: str) -> str:
    """Finds an organisation by organisation number (unique per country)."""
    return f"ORG#{country}#{number}"


def phone_lookup(phone: str, customer_id: str) -> Keys:
    """Finds customers by phone (not unique)."""
    return Keys(f"PHONE#{phone}", f"CUSTOMER#{customer_id}")


def customer_number_lookup(number: int) -> str:
    """Finds a customer by customer number."""
    return f"CUSTNO#{number}"


def kid_lookup(kid: str) -> str:
    """Finds an invoice by KID: unique across sellers, because every KID starts with its seller's KID
    prefix (see :mod:`chalicelib.billing.kid`). Every reader and writer of the lookup builds it here."""
    return f"KID#{kid}"


COUNTERS_PK = "COUNTER"


def customer_number_counter() -> Keys:
    """The customer-number series (one for the platform)."""
    return Keys(COUNTERS_PK, "customer")


def invoice_number_counter(legal_entity_id: str) -> Keys:
    """A legal entity's gapless invoice-number series (it also carries the seller's KID prefix)."""
    return Keys(COUNTERS_PK, f"invoice#{legal_entity_id}")


def kid_prefix_counter() -> Keys:
    """The series of sellers' KID prefixes (one for the platform; need not be gapless)."""
    return Keys(COUNTERS_PK, "kidprefix")


# ---- Ledger, payments, suspense and payment files (chalicelib/ledger) ------------------------------
# A customer's account per seller and currency and its entries share the customer's partition, so the
# ledger page is one query; payments are listed by month and day (gsi1) and totalled per day (PAYTOTAL items);
# suspense items are listed by status (gsi1); payment files are found by content hash.


def ledger_account(customer_id: str, legal_entity_id: str, currency: str) -> Keys:
    """A customer's account with one seller in one currency (balance, credit, open items)."""
    return Keys(f"CUSTOMER#{customer_id}", f"{LEDGER_ACCOUNT_PREFIX}{legal_entity_id}#{currency}")


LEDGER_ACCOUNT_PREFIX = "ACCOUNT#"


def ledger_entry(customer_id: str, legal_entity_id: str, currency: str, seq: int) -> Keys:
    """One entry of a customer's ledger with one seller in one currency, numbered without gaps."""
    return Keys(f"CUSTOMER#{customer_id}", f"{ledger_entries_prefix(legal_entity_id, currency)}{seq:010d}")


def ledger_entries_prefix(legal_entity_id: str, currency: str) -> str:
    """The sort-key prefix of a customer's entries with one seller in one currency."""
    return f"LEDGER#{legal_entity_id}#{currency}#"


def ledger_settings(legal_entity_id: str) -> Keys:
    """A seller's ledger rules."""
    return Keys(f"ENTITY#{legal_entity_id}", "LEDGER_SETTINGS")


def payment(ident: str, paid_on: date | None = None) -> Keys:
    """An incoming payment, listed by the month and day it was paid."""
    listed = (payments_month(paid_on), f"{paid_on.isoformat()}#{ident}") if paid_on else None
    return Keys(f"PAYMENT#{ident}", "PAYMENT", gsi1=listed)


def payments_month(day: date) -> str:
    """The gsi1 partition of one month's payments."""
    return f"PAYMENTS#{day:%Y-%m}"


def payment_day_total(day: date, currency: str, method: str, status: str) -> Keys:
    """Count and sum of one day's payments of one currency, method and status."""
    return Keys(f"PAYTOTAL#{day:%Y-%m}", f"{day.isoformat()}#{currency}#{method}#{status}")


def suspense(ident: str, status: str | None = None, paid_on: date | None = None) -> Keys:
    """A payment parked in suspense, listed by status."""
    listed = (f"SUSPENSE#{status}", f"{paid_on.isoformat()}#{ident}") if status and paid_on else None
    return Keys(f"SUSPENSE#{ident}", "SUSPENSE", gsi1=listed)


def payment_file(sha256: str, created_at: datetime | None = None) -> Keys:
    """A payment file's import report, by content hash."""
    listed = ("PAYFILES", _listed(created_at, sha256)) if created_at else None
    return Keys(f"PAYFILE#{sha256}", "PAYFILE", gsi1=listed)


def payment_file_tally(sha256: str, outcome: str) -> Keys:
    """Count and sum of one outcome of a payment file's transactions."""
    return Keys(f"PAYFILE#{sha256}", f"TALLY#{outcome}")


def usage_counter(subscription_id: str, period_start: date, metric: str) -> Keys:
    """A subscription's usage of one metric in the billing period starting ``period_start``."""
    return Keys(f"SUB#{subscription_id}", f"USAGE#{period_start.isoformat()}#{metric}")


def usage_event(subscription_id: str, key: str) -> Keys:
    """One reported use, by its idempotency key."""
    return Keys(f"SUB#{subscription_id}", f"USAGEEVENT#{key}")
