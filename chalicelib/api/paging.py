"""Pagination: the query fields every list route takes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.api.schemas import QueryModel

Limit = Annotated[int, Field(default=50, ge=1, le=100)]
Cursor = Annotated[str | None, Field(default=None, max_length=2000)]


class ListQuery(QueryModel):
    """Pagination."""

    limit: Limit = 50
    cursor: Cursor = None
