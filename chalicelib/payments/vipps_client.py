"""Vipps MobilePay's HTTP API, low level: a client that caches the access token until shortly before it
expires, sends every header Vipps asks for, retries 429 (after ``Retry-After``), 5xx and timeouts a
bounded number of times with the same ``Idempotency-Key``, and turns problem responses into typed errors.
Keys derive from our own ids, so a retry of ours, a Lambda's or a queue's replays the first request
instead of repeating it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from chalicelib.clock import Clock, SystemClock
from chalicelib.errors import FieldError
from chalicelib.payments.errors import (
    ProviderError,
    ProviderRejectedError,
    ProviderUnavailableError,
)
from chalicelib.settings import VippsSettings

PROVIDER = "vipps"
_IDEMPOTENCY_KEY_MAX = 40
_IDEMPOTENCY_FORBIDDEN = frozenset("#?/\\")
_RETRYABLE_STATUS = 500


def idempotency_key(action: str, *ids: str) -> str:
    """A deterministic ``Idempotency-Key`` (1-40 characters, no ``#?/\\``) for ``action`` on ``ids``."""
    key = "-".join((action, *ids))
    if len(key) <= _IDEMPOTENCY_KEY_MAX and not _IDEMPOTENCY_FORBIDDEN.intersection(key):
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return f"{action}-{digest}"[:_IDEMPOTENCY_KEY_MAX]


def _field_errors(extra: Any) -> list[FieldError]:
    if not isinstance(extra, list):
        return []
    return [
        FieldError(field=str(item.get("field", "")), message=str(item.get("text", "")), code="provider")
        for item in extra
        if isinstance(item, dict)
    ]


def problem_error(
    response: requests.Response, error: type[ProviderError], method: str, path: str
) -> ProviderError:
    """A typed error from a Vipps error response (problem JSON, an Azure error or a v2 error array)."""
    title: str | None = None
    detail: str | None = None
    problem_type: str | None = None
    context_id: str | None = None
    fields: list[FieldError] = []
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("responseInfo"), dict):
        title = str(body["responseInfo"].get("responseMessage") or "") or None
        result = body.get("result")
        detail = str(result.get("message")) if isinstance(result, dict) else None
    elif isinstance(body, dict):
        title = body.get("title")
        detail = body.get("detail")
        problem_type = body.get("type")
        context_id = body.get("contextId")
        fields = _field_errors(body.get("extraDetails"))
    elif isinstance(body, list) and body and isinstance(body[0], dict):
        detail = str(body[0].get("message"))
        context_id = body[0].get("contextId")
    said = ": ".join(part for part in (title, detail) if part) or response.reason or "no detail"
    return error(
        detail=f"Vipps answered {response.status_code} to {method} {path}: {said}",
        errors=fields,
        provider=PROVIDER,
        http_status=response.status_code,
        problem_type=problem_type,
        problem_title=title,
        problem_detail=detail,
        context_id=context_id,
    )


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class VippsClient:
    """Low-level Recurring v3, access token and webhook registration calls; JSON in, JSON out."""

    def __init__(
        self,
        settings: VippsSettings,
        *,
        session: requests.Session | None = None,
        clock: Clock | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = settings
        self._session = session or requests.Session()
        self._clock = clock or SystemClock()
        self._sleep = sleep
        self._token: _Token | None = None
        self._token_lock = threading.Lock()

    # -- transport ---------------------------------------------------------------------------------

    def _system_headers(self) -> dict[str, str]:
        s = self._settings
        return {
            "Ocp-Apim-Subscription-Key": s.subscription_key.get_secret_value(),
            "Merchant-Serial-Number": s.merchant_serial_number,
            "Vipps-System-Name": s.system_name,
            "Vipps-System-Version": s.system_version,
            "Vipps-System-Plugin-Name": s.plugin_name,
            "Vipps-System-Plugin-Version": s.plugin_version,
        }

    def _backoff(self, attempt: int) -> float:
        return float(self._settings.backoff_seconds * 2 ** (attempt - 1))

    def _retry_after(self, value: str | None) -> float | None:
        if not value:
            return None
        try:
            return max(float(value), 0.0)
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max((when - self._clock.now()).total_seconds(), 0.0)

    def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        settings = self._settings
        url = settings.base_url.rstrip("/") + path
        for attempt in range(1, settings.max_attempts + 1):
            last = attempt == settings.max_attempts
            try:
                response = self._session.request(
                    method,
                    url,
                    headers=dict(headers),
                    json=body,
                    params=params,
                    timeout=settings.timeout_seconds,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last:
                    raise ProviderUnavailableError(
                        detail=f"Vipps did not answer {method} {path}: {exc}", provider=PROVIDER
                    ) from exc
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code == 429:
                wait = self._retry_after(response.headers.get("Retry-After"))
                wait = self._backoff(attempt) if wait is None else wait
                if last or wait > settings.max_retry_after_seconds:
                    error = problem_error(response, ProviderUnavailableError, method, path)
                    assert isinstance(error, ProviderUnavailableError)
                    error.retry_after_seconds = wait
                    raise error
                self._sleep(wait)
                continue
            if response.status_code >= _RETRYABLE_STATUS:
                if last:
                    raise problem_error(response, ProviderUnavailableError, method, path)
                self._sleep(self._backoff(attempt))
                continue
            if response.status_code >= 400:
                raise problem_error(response, ProviderRejectedError, method, path)
            return response
        raise AssertionError("unreachable: the last attempt returns or raises")

    # -- access token ------------------------------------------------------------------------------

    def access_token(self) -> str:
        """A bearer token, fetched once and reused until shortly before it expires."""
        with self._token_lock:
            now = self._clock.now()
            margin = timedelta(seconds=self._settings.token_refresh_margin_seconds)
            if self._token is None or now >= self._token.expires_at - margin:
                self._token = self._fetch_token(now)
            return self._token.value

    def _fetch_token(self, now: datetime) -> _Token:
        headers = {
            "client_id": self._settings.client_id,
            "client_secret": self._settings.client_secret.get_secret_value(),
            **self._system_headers(),
        }
        payload = self._send("POST", "/accesstoken/get", headers).json()
        # expires_in arrives as a string in the published responses.
        expires_in = int(str(payload["expires_in"]))
        return _Token(value=str(payload["access_token"]), expires_at=now + timedelta(seconds=expires_in))

    def forget_token(self) -> None:
        """Drop the cached token (after Vipps refused it)."""
        with self._token_lock:
            self._token = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        key: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One authorised API call; a refused token is renewed once."""
        for renewed in (False, True):
            headers = {"Authorization": f"Bearer {self.access_token()}", **self._system_headers()}
            if key is not None:
                headers["Idempotency-Key"] = key
            try:
                return self._send(method, path, headers, body, params)
            except ProviderRejectedError as exc:
                if exc.http_status != 401 or renewed:
                    raise
                self.forget_token()
        raise AssertionError("unreachable: the second attempt returns or raises")

    # -- Recurring v3 ------------------------------------------------------------------------------

    def draft_agreement(self, body: Mapping[str, Any], key: str) -> dict[str, Any]:
        """``POST /recurring/v3/agreements``: ``agreementId``, ``vippsConfirmationUrl``, ``chargeId``."""
        return _object(self.request("POST", "/recurring/v3/agreements", body=body, key=key))

    def fetch_agreement(self, agreement_id: str) -> dict[str, Any]:
        """``GET /recurring/v3/agreements/{agreementId}``."""
        return _object(self.request("GET", f"/recurring/v3/agreements/{agreement_id}"))

    def update_agreement(self, agreement_id: str, body: Mapping[str, Any], key: str) -> None:
        """``PATCH /recurring/v3/agreements/{agreementId}``."""
        self.request("PATCH", f"/recurring/v3/agreements/{agreement_id}", body=body, key=key)

    def create_charge(self, agreement_id: str, body: Mapping[str, Any], key: str) -> dict[str, Any]:
        """``POST /recurring/v3/agreements/{agreementId}/charges``: ``chargeId``."""
        path = f"/recurring/v3/agreements/{agreement_id}/charges"
        return _object(self.request("POST", path, body=body, key=key))

    def fetch_charge(self, agreement_id: str, charge_id: str) -> dict[str, Any]:
        """``GET /recurring/v3/agreements/{agreementId}/charges/{chargeId}``."""
        path = f"/recurring/v3/agreements/{agreement_id}/charges/{charge_id}"
        return _object(self.request("GET", path))

    def list_charges(self, agreement_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """``GET /recurring/v3/agreements/{agreementId}/charges``, optionally of one status."""
        params = {"status": status} if status else None
        response = self.request("GET", f"/recurring/v3/agreements/{agreement_id}/charges", params=params)
        payload = response.json()
        if not isinstance(payload, list):
            raise ProviderError(
                detail="Vipps listed charges as something other than a list", provider=PROVIDER
            )
        return [item for item in payload if isinstance(item, dict)]

    def refund_charge(self, agreement_id: str, charge_id: str, body: Mapping[str, Any], key: str) -> None:
        """``POST .../charges/{chargeId}/refund``."""
        path = f"/recurring/v3/agreements/{agreement_id}/charges/{charge_id}/refund"
        self.request("POST", path, body=body, key=key)

    def capture_charge(self, agreement_id: str, charge_id: str, body: Mapping[str, Any], key: str) -> None:
        """``POST .../charges/{chargeId}/capture`` (reserved charges only)."""
        path = f"/recurring/v3/agreements/{agreement_id}/charges/{charge_id}/capture"
        self.request("POST", path, body=body, key=key)

    def cancel_charge(self, agreement_id: str, charge_id: str, key: str) -> None:
        """``DELETE .../charges/{chargeId}``."""
        self.request("DELETE", f"/recurring/v3/agreements/{agreement_id}/charges/{charge_id}", key=key)

    def register_webhook(self, url: str, events: list[str], key: str) -> dict[str, Any]:
        """``POST /webhooks/v1/webhooks``: ``{id, secret}``; the secret is shown only this once."""
        body = {"url": url, "events": events}
        return _object(self.request("POST", "/webhooks/v1/webhooks", body=body, key=key))


def _object(response: requests.Response) -> dict[str, Any]:
    payload = response.json()
    if not isinstance(payload, dict):
        raise ProviderError(detail="Vipps answered with something other than an object", provider=PROVIDER)
    return payload
