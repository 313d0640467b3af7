"""Idempotent POSTs: ``Idempotency-Key`` with Powertools idempotency on DynamoDB.

Every POST that creates something requires the key (428 without it). A replay with the same key and body
returns the first response; the same key with another body is 409; a request still running under the key
is 409 too. A failed request leaves no record, so it can be retried.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from chalicelib.errors import (
    FieldError,
    IdempotencyKeyMissingError,
    IdempotencyKeyReusedError,
    RequestInProgressError,
    UnavailableError,
    ValidationFailedError,
)

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
# The API function's timeout: template.yaml's Globals declare it, tests/contract/test_template.py checks
# that the two agree.
API_FUNCTION_TIMEOUT_SECONDS = 60
# How long a request may hold its key before a crashed attempt no longer blocks a retry. Longer than the
# function may run, so that a slow first request still holding its key is never run a second time beside
# it; the margin covers clock skew between the Lambdas that read the record.
IN_PROGRESS_SECONDS = API_FUNCTION_TIMEOUT_SECONDS + 30


def require_key(key: str | None) -> str:
    """The request's Idempotency-Key, validated; a missing key is a 428 naming the header."""
    if key is None:
        raise IdempotencyKeyMissingError(
            "this route creates something: send an Idempotency-Key header (e.g. a UUID) and send the same "
            "key when you retry"
        )
    return check_key(key)


def check_key(key: str) -> str:
    """Validate an Idempotency-Key header value (1-255 visible ASCII characters)."""
    if not _KEY.match(key):
        raise ValidationFailedError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
            [FieldError("Idempotency-Key", "1 to 255 visible ASCII characters", "invalid", "header")],
        )
    return key


class _InProgressWindow:
    """Stands in for a Lambda context so Powertools expires an abandoned in-progress record."""

    def get_remaining_time_in_millis(self) -> int:
        return IN_PROGRESS_SECONDS * 1000


class IdempotentRequests:
    """Runs a request's work at most once per (scope, key) and replays its response."""

    def __init__(self, table_name: str, ttl_seconds: int) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
        )

        self._persistence = DynamoDBPersistenceLayer(table_name=table_name)
        self._config = IdempotencyConfig(
            event_key_jmespath="[scope, key]",
            payload_validation_jmespath="body",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=ttl_seconds,
            use_local_cache=False,
        )

    def run(self, scope: str, key: str, body: Any, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Return ``work()``'s result, computed once for this scope, key and body."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        def once(request: dict[str, Any]) -> dict[str, Any]:
            return work()

        self._config.register_lambda_context(_InProgressWindow())  # type: ignore[arg-type]
        guarded = idempotent_function(
            once,
            data_keyword_argument="request",
            persistence_store=self._persistence,
            config=self._config,
        )
        try:
            result: dict[str, Any] = guarded(request={"scope": scope, "key": key, "body": body})
        except IdempotencyValidationError as error:
            raise IdempotencyKeyReusedError(
                "this Idempotency-Key was used with another request body"
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise RequestInProgressError("a request with this Idempotency-Key is still running") from error
        except IdempotencyPersistenceLayerError as error:
            raise UnavailableError("idempotency storage did not answer") from error
        return result
