"""Powertools Logger, Metrics and Tracer: created once here (the Tracer lazily), imported everywhere else.

Logs are JSON. Personal data never reaches them: :class:`PersonalDataFilter` masks the values of known
personal fields anywhere in a log record's structured data.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from typing import IO, TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "abo"

PERSONAL_FIELDS = frozenset(
    {
        "name",
        "email",
        "phone",
        "address",
        "street",
        "postal_code",
        "city",
        "birth_date",
        "national_id",
        "fodselsnummer",
        "personnummer",
        "account_number",
        "card_number",
        "iban",
        "authorization",
        "admin_token",
    }
)
MASK = "***"
# LogRecord's own attributes ("name" is the logger's name) are never personal data.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def mask_personal_data(value: Any) -> Any:
    """Return ``value`` with every personal field (at any depth) replaced by a mask."""
    if isinstance(value, Mapping):
        return {
            key: MASK if str(key).lower() in PERSONAL_FIELDS else mask_personal_data(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_personal_data(item) for item in value]
    return value


class PersonalDataFilter(logging.Filter):
    """Masks personal fields in the extra keys of every record before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in list(record.__dict__.items()):
            if key in _RECORD_ATTRIBUTES:
                continue
            if key.lower() in PERSONAL_FIELDS:
                record.__dict__[key] = MASK
            elif isinstance(value, Mapping | list):
                record.__dict__[key] = mask_personal_data(value)
        return True


def make_logger(stream: IO[str] | None = None, service: str = SERVICE) -> Logger:
    """A JSON logger that masks personal data (one per service name: Powertools reuses a configured one)."""
    made = Logger(service=service, stream=stream)
    made.addFilter(PersonalDataFilter())
    return made


logger = make_logger()
metrics = Metrics(namespace="Abo", service=SERVICE)


@lru_cache(maxsize=1)
def get_tracer() -> Tracer:
    """The process's Tracer, created on first use: importing the X-Ray SDK costs ~190 ms of cold start,
    which handlers that do not trace should not pay."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)
