"""Request and response shapes shared by many routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from chalicelib.money import Currency, Money


class RequestModel(BaseModel):
    """Base of request bodies: unknown fields and loose types are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", strict=True)


class QueryModel(BaseModel):
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
