"""A seller's business date and a daily run's date for a seller, on the seller's own calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.catalog.models import LegalEntity
from chalicelib.catalog.zones import seller_run_date

ENTITY: dict[str, Any] = {
    "id": "ent_1",
    "name": "Avishuset Nord AS",
    "organization_number": "974760673",
    "address": {"line1": "Storgata 1", "postal_code": "9008", "city": "Tromsø"},
    "bank_account": "86011117947",
    "created_at": datetime(2027, 1, 1, tzinfo=UTC),
}


def seller(time_zone: str) -> LegalEntity:
    return LegalEntity.model_validate({**ENTITY, "time_zone": time_zone})


@pytest.mark.parametrize(
    ("instant", "zone", "business_date"),
    [
        # 23:30 UTC in winter: the next day in Oslo, the same day on the Faroes and in Nuuk.
        (datetime(2027, 1, 14, 23, 30, tzinfo=UTC), "Europe/Oslo", date(2027, 1, 15)),
        (datetime(2027, 1, 14, 23, 30, tzinfo=UTC), "Atlantic/Faroe", date(2027, 1, 14)),
        (datetime(2027, 1, 14, 23, 30, tzinfo=UTC), "America/Nuuk", date(2027, 1, 14)),
        # 22:30 UTC in summer: Oslo (UTC+2) has turned, the Faroes (UTC+1) have not.
        (datetime(2027, 7, 1, 22, 30, tzinfo=UTC), "Europe/Oslo", date(2027, 7, 2)),
        (datetime(2027, 7, 1, 22, 30, tzinfo=UTC), "Atlantic/Faroe", date(2027, 7, 1)),
    ],
)
def test_a_sellers_business_date_is_its_own(instant: datetime, zone: str, business_date: date) -> None:
    assert seller(zone).business_date(instant) == business_date


@pytest.mark.parametrize(
    ("now", "zone", "run_date"),
    [
        # The invoice run's moment, 01:00 UTC, planned for the 31st (Oslo's date).
        (datetime(2027, 1, 31, 1, 0, tzinfo=UTC), "Europe/Oslo", date(2027, 1, 31)),
        (datetime(2027, 1, 31, 1, 0, tzinfo=UTC), "Atlantic/Faroe", date(2027, 1, 31)),
        (datetime(2027, 1, 31, 1, 0, tzinfo=UTC), "America/Nuuk", date(2027, 1, 30)),  # 23:00 on the 30th
        (datetime(2027, 7, 31, 1, 0, tzinfo=UTC), "America/Nuuk", date(2027, 7, 31)),  # 00:00 (summer)
    ],
)
def test_a_runs_date_for_a_seller_is_the_sellers_date(now: datetime, zone: str, run_date: date) -> None:
    assert seller_run_date(now.date(), seller(zone), now) == run_date


def test_an_oslo_seller_keeps_the_runs_date_whenever_it_works() -> None:
    # A catch-up run works an old run date: an Oslo seller's run date is the run's, whatever the hour.
    late = datetime(2027, 2, 3, 23, 30, tzinfo=UTC)
    assert seller_run_date(date(2027, 1, 31), seller("Europe/Oslo"), late) == date(2027, 1, 31)


def test_a_seller_needs_an_iana_time_zone() -> None:
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        seller("Mars/Olympus")
