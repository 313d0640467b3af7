"""Settings read once from the environment (prefix ``ABO_``) and passed in; never read elsewhere."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from chalicelib.payments.settings import StripeSettings, VippsSettings

Stage = Literal["local", "test", "dev", "staging", "production"]


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
