"""Settings of the payment providers, nested into :class:`chalicelib.settings.Settings`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class VippsSettings(BaseModel):
    """Vipps MobilePay Recurring v3: where it is, who we are, and how hard to retry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str = "https://apitest.vipps.no"
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")
    subscription_key: SecretStr = SecretStr("")
    merchant_serial_number: str = ""
    webhook_secret: SecretStr = SecretStr("")
    # The URL Vipps signs webhooks for: behind API Gateway the request's own host and path differ.
    webhook_url: str = "https://abo.example/v1/callbacks/vipps"
    system_name: str = Field(default="abo", max_length=30)
    system_version: str = Field(default="0.1.0", max_length=30)
    plugin_name: str = Field(default="abo-payments", max_length=30)
    plugin_version: str = Field(default="1.0.0", max_length=30)
    merchant_redirect_url: str = "https://abo.example/vipps/return"
    merchant_agreement_url: str = "https://abo.example/my/subscriptions"
    # Vipps itself retries a failed charge for this many days (0-14); we never add our own retry loop.
    charge_retry_days: int = Field(default=5, ge=0, le=14)
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_retry_after_seconds: float = Field(default=30.0, ge=0)
    token_refresh_margin_seconds: int = Field(default=300, ge=0)


class StripeSettings(BaseModel):
    """Stripe (cards): where the API is, our keys, and the page where a customer pays on session."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    api_base: str = "https://api.stripe.com"
    secret_key: SecretStr = SecretStr("")
    webhook_secret: SecretStr = SecretStr("")
    publishable_key: str = ""
    # Our own page (Stripe.js) where a customer confirms a PaymentIntent or SetupIntent on session:
    # ``{payment_page_url}/{intent id}``. The client secret is fetched by the page, never put in a URL.
    payment_page_url: str = "https://abo.example/pay/card"
    # Pinned so that webhook payloads and responses keep their shape; None uses the SDK's own pin.
    api_version: str | None = None
    timeout_seconds: float = Field(default=20.0, gt=0)
    # The SDK retries connection errors, 409 and 5xx itself with the same Idempotency-Key.
    max_network_retries: int = Field(default=2, ge=0, le=10)
    webhook_tolerance_seconds: int = Field(default=300, ge=1)
