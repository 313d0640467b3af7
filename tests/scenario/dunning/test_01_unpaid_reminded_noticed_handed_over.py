"""An invoice nobody pays: a reminder with a NOK 35 fee 14 days after its due date, a debt collection
notice 14 days later, and the claim handed over 14 days after that, in the hand-off file in the bucket."""

from __future__ import annotations

import json

from infra.local.stack import LocalStack
from tests.scenario.conftest import Api
from tests.scenario.dunning.conftest import PRICE, advance, case, invoice, mail, order, shop, text_of


def test_unpaid_invoice_is_reminded_noticed_and_handed_over(stack: LocalStack, api: Api) -> None:
    seller = shop(api)
    placed = order(api, seller.offer_id, language="nb", email="ola@example.no", name="Ola Nordmann")
    first = invoice(api, placed["invoice_id"])
    assert (first["number"], first["due_date"], first["open_amount"]["amount"]) == (1, "2027-01-15", PRICE)

    advance(api, "2027-01-28")
    assert case(api, first["id"])["letters"] == []

    advance(api, "2027-01-29")  # 14 days after the due date
    dunned = case(api, first["id"])
    assert dunned["done"] == {f"dunning:{first['id']}:reminder-1": "2027-01-29"}
    [reminder] = dunned["letters"]
    assert (reminder["kind"], reminder["sent_on"], reminder["deadline"]) == (
        "reminder",
        "2027-01-29",
        "2027-02-12",
    )
    assert reminder["fee"] == {"amount": 3500, "currency": "NOK"}
    assert reminder["amount"] == {"amount": PRICE + 3500, "currency": "NOK"}
    fee = invoice(api, reminder["fee_invoice_id"])
    assert (fee["number"], fee["open_amount"]["amount"], fee["due_date"]) == (2, 3500, "2027-02-12")

    advance(api, "2027-02-12")  # 14 days later
    dunned = case(api, first["id"])
    assert dunned["done"] == {
        f"dunning:{first['id']}:reminder-1": "2027-01-29",
        f"dunning:{first['id']}:notice": "2027-02-12",
    }
    notice = dunned["letters"][1]
    assert (notice["kind"], notice["deadline"], notice["fee"]) == ("collection_notice", "2027-02-26", None)
    assert notice["amount"]["amount"] == PRICE + 3500  # the invoice and the open reminder fee

    advance(api, "2027-02-26")  # when the notice's 14 days ran out
    dunned = case(api, first["id"])
    assert (dunned["status"], dunned["handed_over_on"], dunned["next_on"]) == (
        "handed_over",
        "2027-02-26",
        None,
    )

    s3 = stack.services.s3
    bucket = stack.services.settings.documents_bucket
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="dunning/handoff/2027-02-26-")
    [key] = [item["Key"] for item in listed.get("Contents", [])]
    exported = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert (exported["format"], exported["handed_over_on"], exported["claims_count"]) == (
        "abo.dunning.handoff/1",
        "2027-02-26",
        1,
    )
    [creditor] = exported["creditors"]
    assert creditor["creditor"]["legal_entity_id"] == seller.seller_id
    [claim] = creditor["claims"]
    assert (claim["invoice_id"], claim["invoice_number"], claim["kid"]) == (first["id"], 1, first["kid"])
    assert (claim["principal_open"], claim["fees_open"]) == (PRICE, 3500)
    assert [f["amount"] for f in claim["fees"]] == [3500]
    assert claim["debtor"]["name"] == "Ola Nordmann"
    assert claim["collection_notice"]["sent_on"] == "2027-02-12"

    # The letters went out in Norwegian, under their step keys.
    reminded = mail(stack, f"dunning:{first['id']}:reminder-1")
    assert reminded["Subject"] == "Påminnelse: faktura 1 er ikke betalt"
    assert reminded["To"] == "ola@example.no"
    assert "purregebyr" in text_of(reminded)
    noticed = mail(stack, f"dunning:{first['id']}:notice")
    assert noticed["To"] == "ola@example.no"
    assert noticed["Subject"] == "Inkassovarsel for faktura 1"
