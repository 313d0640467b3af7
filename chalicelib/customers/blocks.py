"""Order blocks ("sperr ordre"): a block on a customer, e-mail, phone or organisation number stops new
orders. One block per kind and value, stored at that value's key so that checking an order is a single
BatchGetItem; a lookup by id makes deleting one possible."""

from __future__ import annotations

from chalicelib.clock import Clock
from chalicelib.customers.identifiers import (
    DEFAULT_COUNTRY,
    InvalidIdentifierError,
    email_match_key,
    email_match_keys,
    normalise_organisation_number,
    normalise_phone_number,
)
from chalicelib.customers.models import BlockKind, OrderBlock
from chalicelib.errors import (
    ConflictError,
    FieldError,
    NotFoundError,
    OrderBlockedError,
    ValidationFailedError,
)
from chalicelib.ids import new_id
from chalicelib.store import keys
from chalicelib.store.documents import (
    DocumentItem,
    DocumentStore,
    Page,
    WriteConflictError,
    document_item,
    lookup_item,
)

_DESCRIBED = {
    BlockKind.CUSTOMER: "customer",
    BlockKind.EMAIL: "e-mail address",
    BlockKind.PHONE: "phone number",
    BlockKind.ORG_NUMBER: "organisation number",
}


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    return ValidationFailedError(message, [FieldError(field, message, code)])


class OrderBlockService:
    """Creates, lists, deletes and checks order blocks."""

    def __init__(self, store: DocumentStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def normalised(self, kind: BlockKind, value: str, country: str = DEFAULT_COUNTRY) -> str:
        """``value`` in the form orders are checked with: e-mail's match key (case ignored), phone E.164,
        organisation number digits (read as ``country``'s), customer id as given (it must exist)."""
        field = kind.value
        try:
            if kind == BlockKind.EMAIL:
                return email_match_key(value)
            if kind == BlockKind.PHONE:
                return normalise_phone_number(value, country)
            if kind == BlockKind.ORG_NUMBER:
                return normalise_organisation_number(value, country)
        except InvalidIdentifierError as error:
            raise ValidationFailedError(error.message, [error.to_field_error(field)]) from None
        customer = keys.customer(value)
        if self._store.get(customer.pk, customer.sk) is None:
            raise _invalid("customer_id", f"no customer {value}", "unknown")
        return value

    def create(self, kind: BlockKind, value: str, reason: str, country: str = DEFAULT_COUNTRY) -> OrderBlock:
        """Block new orders matching ``kind``/``value``; a second block on the same value is a 409."""
        normalised = self.normalised(kind, value, country)
        now = self._clock.now()
        block = OrderBlock(id=new_id("blk"), kind=kind, value=normalised, reason=reason, created_at=now)
        stored = keys.order_block(kind.value, normalised, block.id, now)
        try:
            self._store.write(
                [
                    document_item("order_block", stored, block),
                    lookup_item(keys.order_block_by_id(block.id), stored),
                ],
                [],
            )
        except WriteConflictError:
            raise ConflictError(f"this {_DESCRIBED[kind]} is already blocked") from None
        return block

    def list(self, limit: int, cursor: str | None) -> Page[OrderBlock]:
        """Blocks, oldest first."""
        return self._store.page("ORDERBLOCKS", OrderBlock, limit, cursor)

    def delete(self, block_id: str) -> None:
        """Remove a block (and its lookup) in one transaction; 404 if there is none with that id."""
        lookup = self._store.get(keys.order_block_by_id(block_id), "LOOKUP")
        if lookup is None or lookup.target_pk is None or lookup.target_sk is None:
            raise NotFoundError(f"no order block {block_id}")
        block = DocumentItem(lookup.target_pk, lookup.target_sk, kind="order_block")
        self._store.write([], [], deletes=[block, lookup])

    def check(
        self, customer_id: str | None, email: str | None, phone: str | None, org_number: str | None
    ) -> None:
        """Raise :class:`OrderBlockedError` if a block matches any of the (already normalised) values; the
        e-mail matches whatever its case (a block written before that is found at the address as typed
        too). One BatchGetItem, none when no value is given. The error names what matched, never the
        reason."""
        candidates = [
            (kind, value)
            for kind, values in (
                (BlockKind.CUSTOMER, (customer_id,)),
                (BlockKind.EMAIL, email_match_keys(email) if email else ()),
                (BlockKind.PHONE, (phone,)),
                (BlockKind.ORG_NUMBER, (org_number,)),
            )
            for value in values
            if value
        ]
        if not candidates:
            return
        wanted = [(kind, keys.order_block(kind.value, value)) for kind, value in candidates]
        found = self._store.batch_get((key.pk, key.sk) for _, key in wanted)
        matched = list(dict.fromkeys(kind for kind, key in wanted if (key.pk, key.sk) in found))
        if matched:
            what = " and ".join(_DESCRIBED[kind] for kind in matched)
            raise OrderBlockedError(f"new orders are blocked for this {what}")
