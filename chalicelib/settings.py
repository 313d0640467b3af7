"""Settings read once from the environment (prefix ``ABO_``) and passed in; never read elsewhere."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Stage = Literal["local", "test", "dev", "staging", "production"]


# The payment providers' settings, nested into Settings (ABO_VIPPS__..., ABO_STRIPE__...).


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


class Settings(BaseSettings):
    """Everything configurable about one deployment of Abo."""

    model_config = SettingsConfigDict(
        env_prefix="ABO_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    stage: Stage = "local"
    region: str = Field(default="eu-north-1", validation_alias="AWS_REGION")
    main_table: str = "abo-main"
    # Every recorded event; its stream feeds functions/events.py.
    events_table: str = "abo-events"
    idempotency_table: str = "abo-idempotency"
    documents_bucket: str = "abo-documents"
    stack_name: str = "abo"
    draft_rebuild_queue_url: str = ""
    invoice_run_queue_url: str = ""
    dunning_queue_url: str = ""
    # Notices for functions/notifications.py (empty: nothing is enqueued).
    notification_queue_url: str = ""
    # Webhook events of the payment providers, for functions/payment_events.py.
    payment_events_queue_url: str = ""
    # Test-clock advances for functions/clock_advance.py (empty: an advance runs in the request itself).
    clock_queue_url: str = ""
    # "token": bearer token compared with admin_token (local, tests). "jwt": API Gateway's Cognito
    # authorizer has verified the caller; the route checks the group claim.
    auth_mode: Literal["token", "jwt"] = "token"
    admin_token: str = ""
    admin_group: str = "abo-admin"
    # "system": wall time (production). "stored": the test clock in the main table, shared by every Lambda.
    clock_mode: Literal["system", "stored"] = "stored"
    # Where a fresh stored clock starts (default: wall time), and whether it starts frozen.
    clock_start: AwareDatetime | None = None
    clock_frozen: bool = False
    template_path: str = "template.yaml"
    idempotency_ttl_seconds: int = 24 * 3600
    problem_base_url: str = "https://abo.dev/problems/"
    heartbeat_stale_seconds: int = 300
    log_level: str = "INFO"
    # E-mail sender and SMS sender id; the outbox (local stage) keeps a copy of every message sent.
    notification_from_address: str = "noreply@abo.local"
    notification_outbox_dir: str = ""
    sms_sender_id: str = "Abo"
    # Where a customer replaces the card of a card agreement (the card-expiry notice links here):
    # a template with {agreement_id}, {customer_id} and {language} (nb, sv, da or en).
    card_update_url: str = "https://abo.example/my/card?agreement={agreement_id}&lang={language}"
    # ABO_VIPPS__BASE_URL, ABO_VIPPS__CLIENT_ID, ... (Secrets Manager / SSM values in AWS)
    vipps: VippsSettings = Field(default_factory=VippsSettings)
    # ABO_STRIPE__API_BASE, ABO_STRIPE__SECRET_KEY, ABO_STRIPE__WEBHOOK_SECRET, ...
    stripe: StripeSettings = Field(default_factory=StripeSettings)

    @field_validator("card_update_url")
    @classmethod
    def _card_update_url_fields(cls, value: str) -> str:
        try:
            value.format(agreement_id="a", customer_id="c", language="nb")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                "card_update_url may only use {agreement_id}, {customer_id} and {language}"
            ) from error
        return value

    @property
    def is_production(self) -> bool:
        """Production has no test clock and no test routes."""
        return self.stage == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once."""
    return Settings()
