"""RFC 9457 problem details: the one table that turns typed errors into HTTP responses."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib.errors import (
    AboError,
    FieldError,
    MalformedRequestError,
    ThrottledError,
    ValidationFailedError,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 1
# DynamoDB's answers that mean "not now": the request may succeed unchanged a moment later.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
    }
)
# The same, as the reasons of a cancelled transaction.
THROTTLING_REASONS = frozenset({"ProvisionedThroughputExceeded", "ThrottlingError", "TransactionConflict"})


def _causes(error: BaseException) -> list[BaseException]:
    """``error`` and what caused it: chained exceptions and PynamoDB's ``cause``."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in found:
        found.append(current)
        wrapped = getattr(current, "cause", None)
        if isinstance(wrapped, BaseException):
            current = wrapped
        elif current.__cause__ is not None or not current.__suppress_context__:
            current = current.__cause__ or current.__context__
        else:
            current = None
    return found


def throttling_code(error: BaseException) -> str | None:
    """The DynamoDB code that says ``error`` was throttling or a lost transaction race, or None. A cancelled
    transaction counts only when no condition of ours failed (that is a real conflict, a 409)."""
    for cause in _causes(error):
        if not isinstance(cause, ClientError):
            continue
        code = str(cause.response.get("Error", {}).get("Code", ""))
        if code in THROTTLING_CODES:
            return code
        reasons = {str(r.get("Code")) for r in cause.response.get("CancellationReasons", []) or []}
        if "ConditionalCheckFailed" not in reasons and reasons & THROTTLING_REASONS:
            return sorted(reasons & THROTTLING_REASONS)[0]
    return None


def problem_for(error: Exception) -> AboError | None:
    """The typed error to answer ``error`` with: a 503 ``throttled`` when DynamoDB throttled (or a
    transaction lost its race after the retries), the error itself when typed, None when unexpected."""
    code = throttling_code(error)
    if code is not None:
        return ThrottledError(f"the database is busy ({code}); nothing was changed, retry shortly")
    return error if isinstance(error, AboError) else None


def problem_headers(error: AboError) -> dict[str, str]:
    """The headers of ``error``'s response: the media type, ``WWW-Authenticate`` on a 401 and
    ``Retry-After`` (seconds) on a 503."""
    headers = {"Content-Type": PROBLEM_MEDIA_TYPE}
    if error.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if error.status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return headers


def problem_body(error: AboError, base_url: str, instance: str | None = None) -> dict[str, Any]:
    """The problem document for ``error``."""
    body: dict[str, Any] = {
        "type": f"{base_url}{error.slug}",
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
    }
    if instance:
        body["instance"] = instance
    if error.errors:
        body["errors"] = [
            {"field": item.field, "in": item.location, "message": item.message, "code": item.code}
            for item in error.errors
        ]
    return body


def problem_json(error: AboError, base_url: str, instance: str | None = None) -> str:
    """The problem document serialised."""
    return json.dumps(problem_body(error, base_url, instance))


def _dotted(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(root)"


def from_validation_error(error: ValidationError, location: str) -> AboError:
    """Map pydantic's errors to a 422 listing each field, or a 400 when the body is not JSON at all."""
    details = error.errors(include_url=False, include_context=False, include_input=False)
    if any(item["type"] == "json_invalid" for item in details):
        return MalformedRequestError("the body is not valid JSON")
    return ValidationFailedError(
        detail=f"{len(details)} field(s) in the {location} are not valid",
        errors=[
            FieldError(_dotted(tuple(item["loc"])), item["msg"], item["type"], location) for item in details
        ],
    )
