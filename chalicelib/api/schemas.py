"""Request and response shapes shared by many routes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from chalicelib.money import MAX_AMOUNT, Currency, Money

EARLIEST_DATE = date(1970, 1, 1)
LATEST_DATE = date(2199, 12, 31)

Amount = Annotated[
    StrictInt, Field(ge=0, le=MAX_AMOUNT, description=f"Integer minor units, at most {MAX_AMOUNT}")
]


def check_date_in_range(value: Any) -> Any:
    """``value`` unchanged when every date and datetime in it (lists and mappings included) lies between
    :data:`EARLIEST_DATE` and :data:`LATEST_DATE`; otherwise a ``ValueError`` (pydantic makes it a 422
    naming the field). Dates beyond these overflow the date arithmetic of periods and time zones."""
    if isinstance(value, date):
        day = value.date() if isinstance(value, datetime) else value
        if not EARLIEST_DATE <= day <= LATEST_DATE:
            raise ValueError(f"a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}")
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_date_in_range(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_date_in_range(key)
            check_date_in_range(item)
    return value


class _InputModel(BaseModel):
    """Input from outside: every date field, now and later, is held to the sane range."""

    @field_validator("*", mode="after")
    @classmethod
    def _dates_in_range(cls, value: Any) -> Any:
        return check_date_in_range(value)


class RequestModel(_InputModel):
    """Base of request bodies: unknown fields and loose types are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(_InputModel):
    """Base of query strings: values arrive as text and are converted."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(extra="forbid")


class MoneyModel(ResponseModel):
    """An amount of minor units (øre) and its currency."""

    amount: StrictInt = Field(description="Integer minor units, e.g. 12900 for 129.00")
    currency: Currency

    @classmethod
    def of(cls, money: Money) -> MoneyModel:
        """From a domain amount."""
        return cls(amount=money.amount, currency=money.currency)


class FieldProblem(ResponseModel):
    """One offending field of a request."""

    field: str
    in_: str = Field(alias="in")
    message: str
    code: str


class Problem(ResponseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None
