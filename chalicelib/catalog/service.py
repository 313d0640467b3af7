"""Defining what is sold: legal entities, products, plans, offers and price changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, TypeVar

from stdnum.exceptions import ValidationError as StdnumValidationError

from chalicelib.catalog.models import (
    AfterCampaign,
    Campaign,
    Component,
    LegalEntity,
    Offer,
    Plan,
    PriceChange,
    Product,
    ProductKind,
    UsagePrice,
    UsageTier,
)
from chalicelib.catalog.vat import DEFAULT_VAT_TABLE, UnknownVatRateError, VatCode, VatTable
from chalicelib.clock import DEFAULT_TIME_ZONE, Clock, is_time_zone
from chalicelib.customers.identifiers import InvalidIdentifierError, normalise_organisation_number
from chalicelib.errors import FieldError, NotFoundError, ValidationFailedError
from chalicelib.ids import new_id
from chalicelib.money import Currency
from chalicelib.store import keys
from chalicelib.store.documents import DocumentStore, Keys, Page, document_item
from chalicelib.values import Document

DocT = TypeVar("DocT", bound=Document)


def _invalid(field: str, message: str, code: str = "invalid") -> ValidationFailedError:
    return ValidationFailedError(message, [FieldError(field, message, code)])


class CatalogService:
    """Creates and reads catalog documents; every reference is checked before anything is written."""

    def __init__(self, store: DocumentStore, clock: Clock, vat_table: VatTable = DEFAULT_VAT_TABLE) -> None:
        self._store = store
        self._clock = clock
        self._vat = vat_table

    # ---- reading -------------------------------------------------------------------------------------

    def _get(self, key: Keys, model: type[DocT], what: str, ident: str) -> DocT:
        found = self._store.get_document(key.pk, key.sk, model)
        if found is None:
            raise NotFoundError(f"no {what} {ident}")
        return found

    def legal_entity(self, ident: str) -> LegalEntity:
        """One legal entity, or 404."""
        return self._get(keys.legal_entity(ident), LegalEntity, "legal entity", ident)

    def product(self, ident: str) -> Product:
        """One product, or 404."""
        return self._get(keys.product(ident), Product, "product", ident)

    def plan(self, ident: str) -> Plan:
        """One plan, or 404."""
        return self._get(keys.plan(ident), Plan, "plan", ident)

    def offer(self, ident: str) -> Offer:
        """One offer, or 404."""
        return self._get(keys.offer(ident), Offer, "offer", ident)

    def referenced_plan(self, ident: str, field: str) -> Plan:
        """A plan named in a request body: unknown is a 422 on that field, not a 404."""
        found = self._store.get_document(keys.plan(ident).pk, "PLAN", Plan)
        if found is None:
            raise _invalid(field, f"no plan {ident}", "unknown")
        return found

    def plan_currencies(self, plan_ids: Iterable[str]) -> dict[str, Currency]:
        """The currency of each plan, in one round trip."""
        return {
            ident: plan.currency
            for ident, plan in self._documents((keys.plan(i) for i in plan_ids), Plan).items()
        }

    def legal_entities(self, limit: int, cursor: str | None) -> Page[LegalEntity]:
        """Legal entities, oldest first."""
        return self._store.page("ENTITIES", LegalEntity, limit, cursor)

    def products(self, limit: int, cursor: str | None) -> Page[Product]:
        """Products, oldest first."""
        return self._store.page("PRODUCTS", Product, limit, cursor)

    def plans(self, limit: int, cursor: str | None) -> Page[Plan]:
        """Plans, oldest first."""
        return self._store.page("PLANS", Plan, limit, cursor)

    def offers(self, limit: int, cursor: str | None) -> Page[Offer]:
        """Offers, oldest first."""
        return self._store.page("OFFERS", Offer, limit, cursor)

    def default_legal_entity_id(self) -> str:
        """The only legal entity, when there is exactly one; otherwise the caller must name one."""
        page = self.legal_entities(2, None)
        if len(page.items) == 1:
            return page.items[0].id
        if not page.items:
            raise _invalid("legal_entity_id", "no legal entity exists yet: create one first", "missing")
        raise _invalid("legal_entity_id", "several legal entities exist: name one", "missing")

    def _documents(self, key_list: Iterable[Keys], model: type[DocT]) -> dict[str, DocT]:
        items = self._store.batch_get((key.pk, key.sk) for key in key_list)
        found: dict[str, DocT] = {}
        for item in items.values():
            document = item.document(model)
            found[str(getattr(document, "id"))] = document  # noqa: B009 - every catalog document has an id
        return found

    # ---- writing -------------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.now()

    def create_legal_entity(self, fields: dict[str, Any]) -> LegalEntity:
        """Register a seller; its organisation number is validated for its country."""
        country = str(fields.get("country", "NO"))
        if not is_time_zone(str(fields.get("time_zone", DEFAULT_TIME_ZONE.key))):
            raise _invalid("time_zone", "not an IANA time zone (e.g. Europe/Oslo)", "unknown_time_zone")
        try:
            fields["organization_number"] = normalise_organisation_number(
                str(fields["organization_number"]), country
            )
        except InvalidIdentifierError as error:
            raise ValidationFailedError(str(error), [error.to_field_error("organization_number")]) from None
        if country == "NO":
            from stdnum.no import kontonr

            try:
                fields["bank_account"] = kontonr.validate(str(fields["bank_account"]))
            except StdnumValidationError:
                raise _invalid("bank_account", "not a valid Norwegian bank account number") from None
        now = self._now()
        entity = LegalEntity.model_validate({**fields, "id": new_id("ent"), "created_at": now})
        self._store.put_new(document_item("legal_entity", keys.legal_entity(entity.id, now), entity))
        return entity

    def update_legal_entity(self, ident: str, fields: dict[str, Any]) -> LegalEntity:
        """Change a seller's details (documents already issued keep what they printed)."""
        key = keys.legal_entity(ident)
        item = self._store.get(key.pk, key.sk)
        if item is None:
            raise NotFoundError(f"no legal entity {ident}")
        current = item.document(LegalEntity)
        merged = current.model_copy(update=fields)
        updated = LegalEntity.model_validate(merged.model_dump())
        stored = document_item(
            "legal_entity", keys.legal_entity(ident, current.created_at), updated, version=int(item.version)
        )
        self._store.write([], [(stored, int(item.version))])
        return updated

    def _entity_id(self, given: str | None) -> str:
        if given is None:
            return self.default_legal_entity_id()
        if self._store.get(keys.legal_entity(given).pk, "ENTITY") is None:
            raise _invalid("legal_entity_id", f"no legal entity {given}", "unknown")
        return given

    def create_product(self, fields: dict[str, Any]) -> Product:
        """Add a product; its VAT code must resolve for the seller's country today."""
        entity_id = self._entity_id(fields.pop("legal_entity_id", None))
        entity = self.legal_entity(entity_id)
        self._check_vat(entity.country, str(fields["vat_rate_code"]), entity.business_date(self._now()))
        now = self._now()
        product = Product.model_validate(
            {**fields, "id": new_id("prd"), "legal_entity_id": entity_id, "created_at": now}
        )
        self._store.put_new(document_item("product", keys.product(product.id, now), product))
        return product

    def _check_vat(self, country: str, code: str, day: date) -> None:
        try:
            self._vat.resolve(country, VatCode(code), day)
        except UnknownVatRateError as error:
            raise _invalid("vat_rate_code", str(error), "unknown_vat_rate") from None

    def _usage_prices(self, given: list[dict[str, Any]], entity_id: str) -> list[UsagePrice]:
        """Usage prices for usage products of the plan's seller, tiers ascending and ending open."""
        ids = [str(price["product_id"]) for price in given]
        products = self._documents((keys.product(ident) for ident in ids), Product) if ids else {}
        prices: list[UsagePrice] = []
        for index, price in enumerate(given):
            field = f"usage.{index}"
            product = products.get(str(price["product_id"]))
            if product is None or product.legal_entity_id != entity_id:
                raise _invalid(f"{field}.product_id", "not a product of the plan's seller", "unknown")
            if product.kind != ProductKind.USAGE or not product.usage_metric:
                raise _invalid(f"{field}.product_id", "not a usage product", "not_usage")
            tiers = [UsageTier.model_validate(tier) for tier in price["tiers"]]
            limits = [tier.up_to for tier in tiers]
            if limits[-1] is not None or None in limits[:-1]:
                raise _invalid(f"{field}.tiers", "only the last tier is open-ended (no up_to)", "tiers")
            bounded = [limit for limit in limits[:-1] if limit is not None]
            if bounded != sorted(set(bounded)):
                raise _invalid(f"{field}.tiers", "up_to must rise from tier to tier", "tiers")
            if product.usage_metric in {p.metric for p in prices}:
                raise _invalid(f"{field}.product_id", "each metric is priced once", "duplicate")
            prices.append(UsagePrice(product_id=product.id, metric=product.usage_metric, tiers=tiers))
        return prices

    def create_plan(self, fields: dict[str, Any]) -> Plan:
        """Add a plan: its products exist and belong to one seller; components split the price exactly."""
        product_ids = list(dict.fromkeys(fields["product_ids"]))
        if not product_ids:
            raise _invalid("product_ids", "a plan needs at least one product", "empty")
        products = self._documents((keys.product(ident) for ident in product_ids), Product)
        missing = [ident for ident in product_ids if ident not in products]
        if missing:
            raise _invalid("product_ids", f"unknown product(s): {', '.join(missing)}", "unknown")
        entities = {product.legal_entity_id for product in products.values()}
        if len(entities) != 1:
            raise _invalid(
                "product_ids", "a plan's products must belong to one legal entity", "mixed_sellers"
            )
        price = int(fields["price"])
        given = fields.get("components")
        if given is None and len(product_ids) > 1:
            raise _invalid("components", "a bundle of several products needs components splitting its price")
        components = (
            [Component(product_id=product_ids[0], price=price)]
            if given is None
            else [Component.model_validate(c) if isinstance(c, dict) else c for c in given]
        )
        self._check_components(components, product_ids, price, "components")
        usage = self._usage_prices(fields.get("usage") or [], next(iter(entities)))
        next_plan_id = fields.get("next_plan_id")
        if next_plan_id:
            following = self.referenced_plan(str(next_plan_id), "next_plan_id")
            if following.currency != fields["currency"]:
                raise _invalid(
                    "next_plan_id", "the next plan must be in the same currency", "currency_mismatch"
                )
        now = self._now()
        plan = Plan.model_validate(
            {
                **fields,
                "product_ids": product_ids,
                "components": [c.model_dump() for c in components],
                "usage": [u.model_dump() for u in usage],
                "id": new_id("pln"),
                "legal_entity_id": next(iter(entities)),
                "created_at": now,
            }
        )
        self._store.put_new(document_item("plan", keys.plan(plan.id, now), plan))
        return plan

    @staticmethod
    def _check_components(
        components: list[Component], product_ids: list[str], price: int, field: str
    ) -> None:
        named = [component.product_id for component in components]
        if sorted(named) != sorted(product_ids):
            raise _invalid(field, "components must name each of the plan's products exactly once", "mismatch")
        if sum(component.price for component in components) != price:
            raise _invalid(field, "the components' prices must add up to the plan's price", "sum_mismatch")

    def add_price_change(
        self, plan_id: str, price: int, effective_date: date, components: list[Component] | None
    ) -> PriceChange:
        """Schedule a new list price; periods starting on or after ``effective_date`` get it."""
        key = keys.plan(plan_id)
        item = self._store.get(key.pk, key.sk)
        if item is None:
            raise NotFoundError(f"no plan {plan_id}")
        plan = item.document(Plan)
        today = self.legal_entity(plan.legal_entity_id).business_date(self._now())
        if effective_date < today:
            raise _invalid("effective_date", "a price change cannot take effect in the past", "in_past")
        if any(change.effective_date == effective_date for change in plan.price_changes):
            raise _invalid("effective_date", "the plan already has a price change on that date", "duplicate")
        if components is not None:
            self._check_components(components, plan.product_ids, price, "components")
        change = PriceChange(
            effective_date=effective_date, price=price, components=components, created_at=self._now()
        )
        updated = plan.model_copy(
            update={"price_changes": sorted([*plan.price_changes, change], key=lambda c: c.effective_date)}
        )
        stored = document_item(
            "plan", keys.plan(plan.id, plan.created_at), updated, version=int(item.version)
        )
        self._store.write([], [(stored, int(item.version))])
        return change

    def create_offer(self, fields: dict[str, Any]) -> Offer:
        """Add an offer for an existing plan; a campaign and what follows it are checked too."""
        plan = self.referenced_plan(str(fields["plan_id"]), "plan_id")
        if not fields.get("payment_methods"):
            raise _invalid("payment_methods", "an offer allows at least one payment method", "empty")
        after = fields.get("after_campaign")
        if after:
            if not fields.get("campaign"):
                raise _invalid(
                    "after_campaign", "only an offer with a campaign has something after it", "no_campaign"
                )
            following = self.referenced_plan(
                str(AfterCampaign.model_validate(after).plan_id), "after_campaign.plan_id"
            )
            if following.currency != plan.currency:
                raise _invalid(
                    "after_campaign.plan_id", "the plan after the campaign must be in the same currency"
                )
        campaign = fields.get("campaign")
        if campaign is not None:
            Campaign.model_validate(campaign)
        valid_from, valid_until = fields.get("valid_from"), fields.get("valid_until")
        if valid_from and valid_until and valid_until < valid_from:
            raise _invalid("valid_until", "the offer ends before it begins", "window")
        now = self._now()
        offer = Offer.model_validate({**fields, "id": new_id("off"), "created_at": now})
        self._store.put_new(document_item("offer", keys.offer(offer.id, now), offer))
        return offer
