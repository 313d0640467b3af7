"""AvtaleGiro settings (admin): the data transmitter id at Nets and each seller's agreement, the day's
claim and deletion submissions, and the claims the payers' banks did not pay."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from chalicelib.api.routing import Call, Router
from chalicelib.api.schemas import (
    EARLIEST_DATE,
    LATEST_DATE,
    QueryModel,
    RequestModel,
    ResponseModel,
    check_date_in_range,
)

router = Router("avtalegiro", tag="avtalegiro")


class SellerAgreement(RequestModel):
    """A seller's AvtaleGiro agreement with Nets."""

    agreement_id: Annotated[str, Field(pattern=r"^\d{9}$", description="Nets' agreement id")]
    account: Annotated[str, Field(pattern=r"^\d{11}$", description="the account claims are paid to")]
    bank_notification: bool = Field(
        default=False, description="true: the bank notifies the payer (claim type 21); false: we do (02)"
    )


class AvtaleGiroSettings(RequestModel):
    """The data transmitter id and the agreements, by legal entity id."""

    data_transmitter: Annotated[str, Field(pattern=r"^\d{8}$")]
    agreements: Annotated[dict[str, SellerAgreement], Field(min_length=1, max_length=50)]


class AvtaleGiroSettingsView(ResponseModel):
    """The stored AvtaleGiro settings."""

    data_transmitter: str
    agreements: dict[str, dict[str, str | bool]]


class SubmissionView(ResponseModel):
    """One day's claim or deletion file."""

    day: date
    kind: str
    status: str
    transmission_number: str
    earliest_due: date
    latest_due: date
    key: str | None
    claims: int
    total_amount: int
    created_at: datetime
    written_at: datetime | None


class UnpaidClaimsQuery(QueryModel):
    """Which unpaid claims to list."""

    as_of: Annotated[
        date | None, Field(default=None, description="the business date to look from (default: today)")
    ]
    grace_days: Annotated[
        int, Field(default=3, ge=0, le=31, description="days after the due date a claim may still settle")
    ]
    lookback_days: Annotated[int, Field(default=62, ge=1, le=400, description="how far back to look")]


class UnpaidClaimView(ResponseModel):
    """A claimed invoice still open some days after its due date (the payer's limit, a stopped mandate):
    it is dunned as an invoice with KID."""

    invoice_id: str
    customer_id: str
    legal_entity_id: str
    kid: str
    due_date: date
    amount: int
    submitted_on: date


class UnpaidClaimsView(ResponseModel):
    """The unpaid claims, oldest due date first."""

    items: list[UnpaidClaimView]


def _settings_view(config: object) -> AvtaleGiroSettingsView:
    from chalicelib.avtalegiro.models import AvtaleGiroConfig

    assert isinstance(config, AvtaleGiroConfig)
    return AvtaleGiroSettingsView(
        data_transmitter=config.data_transmitter,
        agreements={entity: dict(agreement.model_dump()) for entity, agreement in config.agreements.items()},
    )


@router.route(
    "PUT",
    "/v1/avtalegiro/settings",
    summary="Set the data transmitter id and the sellers' AvtaleGiro agreements",
    body=AvtaleGiroSettings,
    response=AvtaleGiroSettingsView,
)
def put_settings(call: Call) -> AvtaleGiroSettingsView:
    """Replace the AvtaleGiro settings."""
    from chalicelib.avtalegiro.models import AvtaleGiroConfig

    request = call.body(AvtaleGiroSettings)
    config = AvtaleGiroConfig.model_validate(request.model_dump())
    return _settings_view(call.services.avtalegiro.claims.configure(config))


@router.route(
    "GET",
    "/v1/avtalegiro/settings",
    summary="Read the AvtaleGiro settings",
    response=AvtaleGiroSettingsView,
    problems=(404,),
)
def get_settings(call: Call) -> AvtaleGiroSettingsView:
    """The AvtaleGiro settings; 404 until set."""
    return _settings_view(call.services.avtalegiro.claims.config())


@router.route(
    "GET",
    "/v1/avtalegiro/submissions/{kind}/{day}",
    summary="Read one day's claim or deletion submission",
    response=SubmissionView,
    problems=(404,),
)
def get_submission(call: Call) -> SubmissionView:
    """The record of the day's file: status, S3 key, claims and total."""
    from chalicelib.errors import FieldError, NotFoundError, ValidationFailedError

    kind = call.path["kind"]
    try:
        day = check_date_in_range(date.fromisoformat(call.path["day"]))
    except ValueError:
        message = f"a date (YYYY-MM-DD) between {EARLIEST_DATE} and {LATEST_DATE}"
        raise ValidationFailedError(
            f"day is {message}", [FieldError("day", message, "invalid", location="path")]
        ) from None
    avtalegiro = call.services.avtalegiro
    if kind not in ("claims", "deletions"):
        raise ValidationFailedError(
            "kind is claims or deletions", [FieldError("kind", "unknown kind", "invalid", location="path")]
        )
    found = (avtalegiro.claims if kind == "claims" else avtalegiro.deletions).submission(day)
    if found is None:
        raise NotFoundError(f"no {kind} submission for {day.isoformat()}")
    return SubmissionView(
        **found.model_dump(exclude={"sha256", "kind", "status"}),
        kind=found.kind.value,
        status=found.status.value,
    )


@router.route(
    "GET",
    "/v1/avtalegiro/claims/unpaid",
    summary="List claimed invoices the banks did not pay",
    query=UnpaidClaimsQuery,
    response=UnpaidClaimsView,
)
def list_unpaid_claims(call: Call) -> UnpaidClaimsView:
    """Claims due at least ``grace_days`` ago (and at most ``lookback_days``) whose invoice is still open."""
    from chalicelib.clock import local_date

    query = call.query(UnpaidClaimsQuery)
    today = query.as_of or local_date(call.services.clock.now())
    markers = call.services.avtalegiro.claims.unpaid(today, query.grace_days, query.lookback_days)
    items = [
        UnpaidClaimView(
            invoice_id=marker.invoice_id,
            customer_id=marker.customer_id,
            legal_entity_id=marker.legal_entity_id,
            kid=marker.line.kid,
            due_date=marker.line.due_date,
            amount=marker.line.amount,
            submitted_on=marker.submitted_on,
        )
        for marker in markers
    ]
    return UnpaidClaimsView(items=sorted(items, key=lambda item: (item.due_date, item.invoice_id)))
