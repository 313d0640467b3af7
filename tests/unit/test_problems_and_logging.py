"""Problem JSON from typed and validation errors; personal data never reaches the logs."""

from __future__ import annotations

import io
import json
import logging

from pydantic import BaseModel, ValidationError

from chalicelib.api.problems import from_validation_error, problem_body
from chalicelib.errors import FieldError, MalformedRequestError, NotFoundError, ValidationFailedError
from chalicelib.observability import PersonalDataFilter, make_logger, mask_personal_data


class Customer(BaseModel):
    email: str
    age: int


def test_typed_errors_become_problems() -> None:
    body = problem_body(NotFoundError("no customer c_1"), "https://abo.dev/problems/", "/v1/customers/c_1")
    assert body == {
        "type": "https://abo.dev/problems/not-found",
        "title": "Not found",
        "status": 404,
        "detail": "no customer c_1",
        "instance": "/v1/customers/c_1",
    }


def test_validation_errors_name_each_field() -> None:
    try:
        Customer.model_validate_json('{"age": "x"}')
    except ValidationError as error:
        mapped = from_validation_error(error, "body")
    assert isinstance(mapped, ValidationFailedError)
    assert sorted(item.field for item in mapped.errors) == ["age", "email"]
    assert {item.location for item in mapped.errors} == {"body"}
    body = problem_body(mapped, "https://abo.dev/problems/")
    assert body["status"] == 422
    assert body["errors"][0].keys() == {"field", "in", "message", "code"}


def test_broken_json_is_a_400() -> None:
    try:
        Customer.model_validate_json("{nope")
    except ValidationError as error:
        assert isinstance(from_validation_error(error, "body"), MalformedRequestError)


def test_field_errors_keep_their_location() -> None:
    error = ValidationFailedError("bad", [FieldError("limit", "too big", "too_big", "query")])
    assert problem_body(error, "x/")["errors"] == [
        {"field": "limit", "in": "query", "message": "too big", "code": "too_big"}
    ]


def test_personal_fields_are_masked_at_any_depth() -> None:
    masked = mask_personal_data({"customer": {"email": "kari@example.no", "id": "c_1"}, "phone": "+47"})
    assert masked == {"customer": {"email": "***", "id": "c_1"}, "phone": "***"}


def test_the_log_filter_masks_extras() -> None:
    record = logging.LogRecord("abo", logging.INFO, __file__, 1, "order", None, None)
    record.__dict__.update({"email": "kari@example.no", "order": {"customer": {"name": "Kari"}}})
    PersonalDataFilter().filter(record)
    assert record.__dict__["email"] == "***"
    assert json.dumps(record.__dict__["order"]) == '{"customer": {"name": "***"}}'


def test_the_platform_logger_prints_json_without_personal_data() -> None:
    stream = io.StringIO()
    make_logger(stream, service="abo-log-test").info(
        "order placed", extra={"email": "kari@example.no", "order_id": "o_1"}
    )
    line = stream.getvalue().strip()
    record = json.loads(line)
    assert (record["email"], record["order_id"], record["service"]) == ("***", "o_1", "abo-log-test")
    assert "kari" not in line
