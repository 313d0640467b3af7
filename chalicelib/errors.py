"""Typed domain errors. Each names its RFC 9457 problem type and HTTP status, mapped in one place
(:mod:`chalicelib.api.problems`); services raise these and never build HTTP responses."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    """One offending input field: a dotted path and what is wrong with it."""

    field: str
    message: str
    code: str = "invalid"
    location: str = "body"


@dataclass
class AboError(Exception):
    """Base of every error a caller can act on."""

    detail: str
    errors: list[FieldError] = field(default_factory=list)

    slug = "error"
    status = 400
    title = "Bad request"

    def __str__(self) -> str:
        return self.detail


class MalformedRequestError(AboError):
    """The body is not JSON, or not the media type the route takes."""

    slug = "malformed-request"
    status = 400
    title = "Malformed request"


class UnsupportedMediaTypeError(AboError):
    """A body was sent with a media type other than JSON."""

    slug = "unsupported-media-type"
    status = 415
    title = "Unsupported media type"


class ValidationFailedError(AboError):
    """The input is well-formed but breaks a rule; ``errors`` names the fields."""

    slug = "validation-error"
    status = 422
    title = "The request is not valid"


class UnauthenticatedError(AboError):
    """No or wrong credentials."""

    slug = "unauthenticated"
    status = 401
    title = "Authentication required"


class ForbiddenError(AboError):
    """The caller is known but may not do this."""

    slug = "forbidden"
    status = 403
    title = "Forbidden"


class OrderBlockedError(ForbiddenError):
    """An order block matches the customer, e-mail, phone or organisation number."""

    slug = "order-blocked"
    title = "Orders are blocked for this customer"


class NotFoundError(AboError):
    """The named resource does not exist."""

    slug = "not-found"
    status = 404
    title = "Not found"


class ConflictError(AboError):
    """The request conflicts with the current state."""

    slug = "conflict"
    status = 409
    title = "Conflict"


class IdempotencyKeyReusedError(ConflictError):
    """The same Idempotency-Key came with another body."""

    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with another request"


class RequestInProgressError(ConflictError):
    """A request with the same Idempotency-Key is still being processed."""

    slug = "request-in-progress"
    title = "A request with this Idempotency-Key is in progress"


class ClockMovesBackwardsError(ConflictError):
    """The test clock only moves forward."""

    slug = "clock-moves-backwards"
    title = "The clock never moves backwards"


class ClockAdvancingError(ConflictError):
    """The test clock is still running the scheduled work of an earlier advance."""

    slug = "clock-advancing"
    title = "The clock is advancing"


class UnavailableError(AboError):
    """A dependency is down; the caller may retry."""

    slug = "unavailable"
    status = 503
    title = "Service unavailable"


class IdempotencyKeyMissingError(AboError):
    """A POST that creates something came without the ``Idempotency-Key`` header it requires."""

    slug = "idempotency-key-missing"
    status = 428
    title = "Idempotency-Key header required"

    def __init__(self, detail: str) -> None:
        super().__init__(
            detail, [FieldError("Idempotency-Key", "this route requires the header", "missing", "header")]
        )


class ThrottledError(UnavailableError):
    """DynamoDB refused the work for now (throttling, request limits, a transaction conflict that outlasted
    the retries); nothing was changed and the same request may be sent again after ``Retry-After``."""

    slug = "throttled"
    title = "Too busy right now; retry shortly"
