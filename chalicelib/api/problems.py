"""RFC 9457 problem details: the one table that turns typed errors into HTTP responses."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from chalicelib.errors import AboError, FieldError, MalformedRequestError, ValidationFailedError

PROBLEM_MEDIA_TYPE = "application/problem+json"


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
