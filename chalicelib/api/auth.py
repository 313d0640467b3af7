"""Admin authentication: a bearer token locally, API Gateway's Cognito/JWT authorizer in AWS."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import ForbiddenError, UnauthenticatedError
from chalicelib.settings import Settings


def require_admin(headers: Mapping[str, str], context: Mapping[str, Any], settings: Settings) -> None:
    """Raise unless the caller is an administrator."""
    if settings.auth_mode == "jwt":
        claims = (context.get("authorizer") or {}).get("claims") or {}
        if not claims:
            raise UnauthenticatedError("a valid token is required")
        groups = str(claims.get("cognito:groups", "")).replace(",", " ").split()
        if settings.admin_group not in groups:
            raise ForbiddenError("the caller is not an administrator")
        return
    header = headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthenticatedError("send 'Authorization: Bearer <token>'")
    if not settings.admin_token or not hmac.compare_digest(token.encode(), settings.admin_token.encode()):
        raise UnauthenticatedError("the token is not valid")
