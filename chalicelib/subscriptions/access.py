"""Access ("tilgang"): may this customer use this product today?

CMSs and apps ask on every page view, so the answer is one GetItem of the customer's access item for the
product (besides the clock, which costs nothing in production). The item holds one grant per subscription,
each until a date (exclusive); subscriptions, payments and stops maintain the grants in their own
transactions through :meth:`AccessService.grant_writes` and :meth:`AccessService.revoke_writes`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from chalicelib.clock import Clock, local_date
from chalicelib.customers.identifiers import InvalidIdentifierError, email_match_keys
from chalicelib.errors import ValidationFailedError
from chalicelib.events import Event
from chalicelib.store import keys
from chalicelib.store.documents import DocumentItem, DocumentStore, document_item
from chalicelib.subscriptions.events import access_revoked, grants_of
from chalicelib.subscriptions.models import AccessGrant, Subscription

Grants = dict[str, date]


@dataclass(frozen=True)
class AccessDecision:
    """Whether the customer has access today, and the first day without it (None without access)."""

    has_access: bool
    valid_until: date | None
    customer_id: str | None = None


def decide(grant: AccessGrant | None, today: date, customer_id: str | None) -> AccessDecision:
    """Access when any grant lasts beyond ``today``."""
    until = grant.valid_until() if grant else None
    if until is None or until <= today:
        return AccessDecision(False, None, customer_id)
    return AccessDecision(True, until, customer_id)


class AccessService:
    """Answers access checks and prepares the writes that change grants."""

    def __init__(self, store: DocumentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> datetime:
        """The instant access changes (its events' time)."""
        return self._clock.now()

    def check(self, customer_id: str, product_id: str) -> AccessDecision:
        """Access of a customer to a product today (Europe/Oslo): exactly one GetItem."""
        key = keys.access(customer_id, product_id)
        grant = self._store.get_document(key.pk, key.sk, AccessGrant)
        return decide(grant, local_date(self._clock.now()), customer_id)

    def check_by_email(self, email: str, product_id: str) -> AccessDecision:
        """Access of the customer with ``email``, whatever its case: two GetItems, the e-mail lookup then
        the access item (a third, for an address typed with capitals that is not found by its match key: the
        lookup written before matching ignored case). An unknown e-mail has no access (and no customer id)."""
        try:
            match_keys = email_match_keys(email)
        except InvalidIdentifierError as error:
            raise ValidationFailedError(error.message, [error.to_field_error("email")]) from None
        lookup = None
        for key in match_keys:
            lookup = self._store.get(keys.email_lookup(key), "LOOKUP")
            if lookup is not None:
                break
        prefix = keys.customer("").pk
        if lookup is None or not lookup.target_pk or not lookup.target_pk.startswith(prefix):
            return AccessDecision(False, None, None)
        return self.check(lookup.target_pk.removeprefix(prefix), product_id)

    def grant_writes(
        self, customer_id: str, product_ids: Sequence[str], subscription_id: str, until: date
    ) -> tuple[list[DocumentItem], list[tuple[DocumentItem, int]]]:
        """Creates and replaces (at the versions read, in one BatchGetItem) that give ``subscription_id``
        access to each product until ``until`` (exclusive), for the caller's transaction."""

        def grant(grants: Grants) -> Grants:
            return {**grants, subscription_id: until}

        return self._writes(customer_id, product_ids, grant, create_missing=True)

    def revoke_writes(
        self, customer_id: str, product_ids: Sequence[str], subscription_id: str, until: date | None = None
    ) -> list[tuple[DocumentItem, int]]:
        """Replaces that end ``subscription_id``'s access: at ``until`` (exclusive) when given, else at once
        (its grant is removed). Never lengthens a grant: access already ending earlier, or removed (a
        dunning suspension), stays so. Products without an access item need nothing."""

        def revoke(grants: Grants) -> Grants:
            if until is None:
                return {sub: day for sub, day in grants.items() if sub != subscription_id}
            if subscription_id not in grants:
                return grants
            return {**grants, subscription_id: min(grants[subscription_id], until)}

        _, replaces = self._writes(customer_id, product_ids, revoke, create_missing=False)
        return replaces

    def revoke(
        self, subscription: Subscription, product_ids: Sequence[str], reason: str, until: date | None = None
    ) -> tuple[list[tuple[DocumentItem, int]], list[Event]]:
        """:meth:`revoke_writes` for ``subscription`` and, when they take access away, its
        ``access.revoked`` for ``reason`` (effective ``until``, or today when access ends at once)."""
        revoked = self.revoke_writes(subscription.customer_id, product_ids, subscription.id, until=until)
        if not revoked:  # only access that was there is taken away
            return [], []
        now = self.now()
        products = [grant.product_id for grant in grants_of(revoked)]
        return revoked, [access_revoked(subscription, products, until or local_date(now), reason, now)]

    def _writes(
        self,
        customer_id: str,
        product_ids: Sequence[str],
        change: Callable[[Grants], Grants],
        create_missing: bool,
    ) -> tuple[list[DocumentItem], list[tuple[DocumentItem, int]]]:
        wanted = {
            product_id: keys.access(customer_id, product_id) for product_id in dict.fromkeys(product_ids)
        }
        found = self._store.batch_get((key.pk, key.sk) for key in wanted.values())
        creates: list[DocumentItem] = []
        replaces: list[tuple[DocumentItem, int]] = []
        for product_id, key in wanted.items():
            item = found.get((key.pk, key.sk))
            if item is None:
                if create_missing:
                    grant = AccessGrant(customer_id=customer_id, product_id=product_id, grants=change({}))
                    creates.append(document_item("access", key, grant))
                continue
            current = item.document(AccessGrant)
            updated = current.model_copy(update={"grants": change(dict(current.grants))})
            if updated.grants == current.grants:
                continue
            version = int(item.version)
            replaces.append((document_item("access", key, updated, version=version), version))
        return creates, replaces

    def grant_many(
        self, grants: Sequence[tuple[str, str, str, date]]
    ) -> tuple[list[DocumentItem], list[tuple[DocumentItem, int]]]:
        """Writes for several (customer, product, subscription, until) grants at once, one per access item
        (a transaction may touch an item once), never shortening a grant; one BatchGetItem."""
        merged: dict[tuple[str, str], dict[str, date]] = {}
        for customer_id, product_id, subscription_id, until in grants:
            per_item = merged.setdefault((customer_id, product_id), {})
            per_item[subscription_id] = max(until, per_item.get(subscription_id, until))
        found = self._store.batch_get((keys.access(c, p).pk, keys.access(c, p).sk) for c, p in merged)
        creates: list[DocumentItem] = []
        replaces: list[tuple[DocumentItem, int]] = []
        for (customer_id, product_id), new in merged.items():
            key = keys.access(customer_id, product_id)
            item = found.get((key.pk, key.sk))
            if item is None:
                creates.append(
                    document_item(
                        "access", key, AccessGrant(customer_id=customer_id, product_id=product_id, grants=new)
                    )
                )
                continue
            current = item.document(AccessGrant)
            combined = dict(current.grants)
            for subscription_id, until in new.items():
                combined[subscription_id] = max(until, combined.get(subscription_id, until))
            if combined == current.grants:
                continue
            version = int(item.version)
            updated = current.model_copy(update={"grants": combined})
            replaces.append((document_item("access", key, updated, version=version), version))
        return creates, replaces
