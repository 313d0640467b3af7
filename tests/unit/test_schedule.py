"""EventBridge schedule expressions evaluated on the platform clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.jobs.schedule import parse_schedule


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=UTC)


def test_rates_fire_on_epoch_aligned_multiples_in_a_half_open_window() -> None:
    every_hour = parse_schedule("rate(1 hour)")
    assert list(every_hour.moments_between(at(1, 0, 30), at(1, 3))) == [at(1, 1), at(1, 2), at(1, 3)]
    assert list(every_hour.moments_between(at(1, 1), at(1, 1))) == []
    assert list(parse_schedule("rate(2 days)").moments_between(at(1), at(5))) == [at(2), at(4)]


def test_latest_skips_the_walk() -> None:
    assert parse_schedule("rate(1 minute)").latest_between(at(1), at(31, 23, 59)) == at(31, 23, 59)
    assert parse_schedule("rate(1 day)").latest_between(at(1, 1), at(1, 23)) is None


def test_cron_uses_eventbridge_fields() -> None:
    daily_at_five = parse_schedule("cron(0 5 * * ? *)")
    assert list(daily_at_five.moments_between(at(1, 5), at(3, 6))) == [at(2, 5), at(3, 5)]
    first_of_month = parse_schedule("cron(0 3 1 * ? *)")
    assert list(first_of_month.moments_between(at(1), datetime(2027, 3, 15, tzinfo=UTC))) == [
        at(1, 3),
        datetime(2027, 2, 1, 3, tzinfo=UTC),
        datetime(2027, 3, 1, 3, tzinfo=UTC),
    ]


@pytest.mark.parametrize("text", ["rate(0 minutes)", "rate(1 fortnight)", "every day", "cron(bad)"])
def test_rejects_what_eventbridge_would(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)
