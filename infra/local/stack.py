"""The embedded local stack: moto, the template's resources, the API, the scheduler, SQS consumers and
the drop folder, in one process on 127.0.0.1.

:class:`LocalStack` is what ``python -m infra.local`` runs; tests can start and stop one in-process on
free ports with a temporary var dir. It changes ``os.environ`` (the platform reads its settings and AWS
endpoint from there) and puts it back on :meth:`LocalStack.stop`.
"""

from __future__ import annotations

import importlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.local.dropfolder import DropFolder
from infra.local.resources import LocalResources, create_resources
from infra.local.seed import SeededCatalog
from infra.local.snapshot import SnapshotCounts, restore_snapshot, save_snapshot

if TYPE_CHECKING:
    from chalice.local import LocalDevServer

    from chalicelib.container import Services
    from infra.emulator import AwsEmulator
    from infra.simulators.stripe import StripeSimulator
    from infra.simulators.vipps import VippsSimulator

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DUMMY_CREDENTIAL = "testing"
_JOIN_SECONDS = 15.0

log = logging.getLogger("infra.local")

# The local simulators' credentials (nothing secret: they exist only in this process).
VIPPS_CLIENT_ID = "00000000-0000-4000-8000-000000000001"
VIPPS_CLIENT_SECRET = "local-client-secret"  # noqa: S105
VIPPS_SUBSCRIPTION_KEY = "local-subscription-key"
VIPPS_MSN = "123456"
VIPPS_WEBHOOK_SECRET = "local-vipps-webhook-secret"  # noqa: S105
STRIPE_SECRET_KEY = "sk_test_abo_local"  # noqa: S105
STRIPE_WEBHOOK_SECRET = "whsec_abo_local"  # noqa: S105


class StackSettings(BaseSettings):
    """What the local stack itself reads from the environment (the platform reads its own settings)."""

    model_config = SettingsConfigDict(env_prefix="ABO_", extra="ignore")

    port: int = Field(default=8000, ge=0, description="the API's port (0: any free port)")
    aws_port: int = Field(default=4566, ge=0, description="moto's port (0: any free port)")
    var_dir: Path = Field(default=Path("var"), description="inbox and saved state live here")
    admin_token: str = Field(default="", description="generated and printed when empty")
    stack_name: str = "abo"
    template_path: Path = REPO_ROOT / "template.yaml"
    region: str = Field(
        default="eu-north-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
    scheduler_interval_seconds: float = Field(default=5.0, gt=0)
    drop_poll_seconds: float = Field(default=1.0, gt=0)
    seed_demo_catalog: bool = Field(default=True, description="load the demo catalog into an empty platform")
    payment_simulators: bool = Field(
        default=True, description="run the Vipps and Stripe simulators and point the platform at them"
    )


class StackError(RuntimeError):
    """The stack could not start (a port is taken, the saved state does not fit, ...)."""


class _Environment:
    """Changes to ``os.environ`` that can be undone."""

    def __init__(self) -> None:
        self._saved: dict[str, str | None] = {}

    def set(self, key: str, value: str) -> None:
        self._saved.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def unset(self, key: str) -> None:
        self._saved.setdefault(key, os.environ.get(key))
        os.environ.pop(key, None)

    def restore(self) -> None:
        for key, value in self._saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved.clear()


class _Loop(threading.Thread):
    """Calls ``step`` until told to stop, pausing ``interval`` seconds in between; errors are logged."""

    def __init__(self, name: str, step: Callable[[], Any], interval: float, stopping: threading.Event):
        super().__init__(name=name, daemon=True)
        self._step = step
        self._interval = interval
        self._stopping = stopping

    def run(self) -> None:
        while not self._stopping.is_set():
            pause = self._interval
            try:
                self._step()
            except Exception:
                log.exception("%s failed; trying again", self.name)
                pause = max(pause, 1.0)  # do not spin on a persistent failure
            if pause:
                self._stopping.wait(pause)


def _ensure_port_free(port: int, what: str) -> None:
    # ThreadedMotoServer.start() waits forever when its server cannot bind, so check first.
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            raise StackError(f"{what} port {HOST}:{port} is in use ({error.strerror})") from error


def _forget_table_connections() -> None:
    # PynamoDB caches a connection (and its endpoint) per model and reconnects only when the table name
    # changes; a later stack in the same process has the same names on another port.
    from pynamodb.models import Model

    from chalicelib.store.documents import forget_connections

    forget_connections()
    models: list[type[Model]] = [Model]
    while models:
        model = models.pop()
        model._connection = None
        models.extend(model.__subclasses__())


class LocalStack:
    """The whole platform on 127.0.0.1; ``start()``, then ``stop()`` (which saves the state)."""

    def __init__(self, settings: StackSettings | None = None) -> None:
        self.settings = settings or StackSettings()
        self.var_dir = self.settings.var_dir.resolve()
        self.state_dir = self.var_dir / "state"
        self.inbox_dir = self.var_dir / "inbox"
        self.admin_token = self.settings.admin_token or secrets.token_urlsafe(24)
        self.admin_token_generated = not self.settings.admin_token
        self.resources: LocalResources | None = None
        self.restored: SnapshotCounts | None = None
        self.seeded: SeededCatalog | None = None
        self.drop_folders: list[DropFolder] = []
        self._drop_targets: dict[Path, str] = {}
        self._environment = _Environment()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: AwsEmulator | None = None
        self._api: LocalDevServer | None = None
        self._api_thread: threading.Thread | None = None
        self._services: Services | None = None
        self.vipps: VippsSimulator | None = None
        self.stripe: StripeSimulator | None = None
        self._ready = False  # only a fully started stack saves its state: a half-restored one must not

    @property
    def api_url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://{HOST}:{self.settings.port}"

    @property
    def aws_endpoint(self) -> str:
        """moto's endpoint, for boto3 and the AWS CLI."""
        return f"http://{HOST}:{self.settings.aws_port}"

    @property
    def services(self) -> Services:
        """The platform's services bound to this stack."""
        if self._services is None:
            raise StackError("the stack is not started")
        return self._services

    def _client(self, service: str) -> Any:
        return boto3.session.Session(region_name=self.settings.region).client(  # type: ignore[call-overload]
            service, endpoint_url=self.aws_endpoint
        )

    # ---- start -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start everything; on failure, stop what was started and raise."""
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self._teardown(save=False)
            raise
        log.info("local stack ready in %.1f s", time.monotonic() - started)

    def _start(self) -> None:
        if self.settings.aws_port:
            _ensure_port_free(self.settings.aws_port, "the AWS emulator's (ABO_AWS_PORT)")
        if self.settings.port:
            _ensure_port_free(self.settings.port, "the API's (ABO_PORT)")
        if not self.settings.template_path.is_file():
            raise StackError(f"no template at {self.settings.template_path}")
        self.var_dir.mkdir(parents=True, exist_ok=True)
        # moto logs every request through werkzeug; the SQS long polls alone would flood the console.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

        from infra.emulator import AwsEmulator

        # Port 0 binds a free port and keeps it: a port probed free and bound later can be taken in
        # between (an outgoing connection's ephemeral port, another test worker), which once failed CI.
        self._moto = AwsEmulator(HOST, self.settings.aws_port)
        self._moto.start()
        self._bind_api()
        self.settings = self.settings.model_copy(
            update={"aws_port": self._moto.get_host_and_port()[1], "port": self._api_port()}
        )
        self._set_aws_environment()

        from chalicelib.jobs.template import load_template

        self.resources = create_resources(
            load_template(self.settings.template_path), self.settings.region, self.settings.stack_name
        )
        self._set_platform_environment(self.resources)
        self._set_up_notifications()
        if self.settings.payment_simulators:
            self._start_payment_simulators()
        try:
            self.restored = restore_snapshot(
                self._client("dynamodb"), self._client("s3"), self.resources, self.state_dir
            )
        except Exception as error:
            raise StackError(
                f"could not restore the saved state in {self.state_dir}: {error}. "
                "Move that folder away to start empty."
            ) from error

        from chalicelib.container import Services, set_services
        from chalicelib.settings import Settings, get_settings

        get_settings.cache_clear()
        services = Services(Settings())
        set_services(services)
        self._services = services
        # Restoring put the saved events back, and the stream shows them as new: they were dispatched
        # before the snapshot, so the dispatcher starts after them.
        for pump in services.drainer.pumps:
            pump.skip_to_latest()
        if self.vipps is not None:
            follow_platform_clock(services, self.vipps)
        # Health needs a beat; the first scheduled one may be a platform minute away.
        services.heartbeat.beat(services.clock.now(), source="local-stack")
        if self.settings.seed_demo_catalog:
            from infra.local.seed import seed_demo_catalog

            self.seeded = seed_demo_catalog(services.catalog)

        self._start_workers(services, self.resources)
        self._serve_api()
        self._ready = True

    def _set_aws_environment(self) -> None:
        env = self._environment
        for key in list(os.environ):
            if key.startswith("AWS_ENDPOINT_URL_"):
                env.unset(key)  # a service-specific endpoint would win over ours
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
            env.unset(key)
        env.set("AWS_ENDPOINT_URL", self.aws_endpoint)
        env.set("AWS_ACCESS_KEY_ID", DUMMY_CREDENTIAL)
        env.set("AWS_SECRET_ACCESS_KEY", DUMMY_CREDENTIAL)
        env.set("AWS_REGION", self.settings.region)
        env.set("AWS_DEFAULT_REGION", self.settings.region)

    def _set_platform_environment(self, resources: LocalResources) -> None:
        env = self._environment
        env.set("ABO_STAGE", "local")
        env.set("ABO_CLOCK_MODE", "stored")
        env.set("ABO_AUTH_MODE", "token")
        env.set("ABO_ADMIN_TOKEN", self.admin_token)
        env.set("ABO_STACK_NAME", self.settings.stack_name)
        env.set("ABO_TEMPLATE_PATH", str(self.settings.template_path))
        env.set("ABO_CLOCK_FROZEN", os.environ.get("ABO_CLOCK_FROZEN", "false"))
        for key, value in resources.settings_environment().items():
            env.set(key, value)

    def _start_payment_simulators(self) -> None:
        """The Vipps simulator (in this process) and the Stripe simulator (localstripe behind its shim),
        on free ports, posting their webhooks to our callbacks; the platform is pointed at both."""
        from infra.simulators.stripe import StripeSimulator
        from infra.simulators.vipps import VippsSimulator

        env = self._environment
        vipps_callback = f"{self.api_url}/v1/callbacks/vipps"
        self.vipps = VippsSimulator(
            client_id=VIPPS_CLIENT_ID,
            client_secret=VIPPS_CLIENT_SECRET,
            subscription_key=VIPPS_SUBSCRIPTION_KEY,
            merchant_serial_number=VIPPS_MSN,
            webhook_secret=VIPPS_WEBHOOK_SECRET,
            callback_url=vipps_callback,
        )
        vipps_url = self.vipps.start(HOST, 0)
        for key, value in {
            "BASE_URL": vipps_url,
            "CLIENT_ID": VIPPS_CLIENT_ID,
            "CLIENT_SECRET": VIPPS_CLIENT_SECRET,
            "SUBSCRIPTION_KEY": VIPPS_SUBSCRIPTION_KEY,
            "MERCHANT_SERIAL_NUMBER": VIPPS_MSN,
            "WEBHOOK_SECRET": VIPPS_WEBHOOK_SECRET,
            "WEBHOOK_URL": vipps_callback,
            "MERCHANT_REDIRECT_URL": f"{self.api_url}/health",
            "MERCHANT_AGREEMENT_URL": f"{self.api_url}/health",
            "BACKOFF_SECONDS": "0.05",
        }.items():
            env.set(f"ABO_VIPPS__{key}", value)
        self.stripe = StripeSimulator(secret_key=STRIPE_SECRET_KEY)
        stripe_url = self.stripe.start(HOST, 0)
        self.stripe.register_webhook(f"{self.api_url}/v1/callbacks/stripe", STRIPE_WEBHOOK_SECRET)
        for key, value in {
            "API_BASE": stripe_url,
            "SECRET_KEY": STRIPE_SECRET_KEY,
            "WEBHOOK_SECRET": STRIPE_WEBHOOK_SECRET,
            "PAYMENT_PAGE_URL": f"{stripe_url}/pay",
            "MAX_NETWORK_RETRIES": "0",
        }.items():
            env.set(f"ABO_STRIPE__{key}", value)

    def _set_up_notifications(self) -> None:
        """SES accepts only a verified sender; a copy of each message sent goes to var/outbox."""
        self._environment.set("ABO_NOTIFICATION_OUTBOX_DIR", str(self.var_dir / "outbox"))
        sender = os.environ.get("ABO_NOTIFICATION_FROM_ADDRESS", "noreply@abo.local")
        self._client("ses").verify_email_identity(EmailAddress=sender)

    def _start_workers(self, services: Services, resources: LocalResources) -> None:
        def loop(name: str, step: Callable[[], Any], interval: float) -> None:
            thread = _Loop(name, step, interval, self._stopping)
            thread.start()
            self._threads.append(thread)

        # Lambda imports each function's module alone, in its own process. Here every worker shares one
        # process, and two threads importing netsgiro at once (its modules import each other) saw it
        # half-initialised and failed; so import the handlers now, one after another.
        for handler in sorted(set(services.wiring.functions.values())):
            importlib.import_module(handler.rpartition(".")[0])
        # Lambda's SQS event-source mapping: one long-polling consumer per queue the template wires.
        for consumer in services.wiring.queues:
            loop(
                f"sqs-{consumer.function}", partial(services.drainer.poll_once, consumer, wait_seconds=1), 0.0
            )
        # Lambda's DynamoDB stream mapping: the events table's stream to the dispatcher.
        for pump in services.drainer.pumps:
            loop(f"stream-{pump.wiring.function}", pump.pump_if_pending, 0.1)
        loop("scheduler", self._tick, self.settings.scheduler_interval_seconds)

        s3 = self._client("s3")
        self.drop_folders = []
        for notification in services.wiring.notifications:
            bucket = resources.buckets[notification.bucket_logical_id]
            folder_name = notification.prefix.strip("/") or notification.bucket_logical_id

            def upload(path: Path, key: str, bucket: str = bucket) -> None:
                s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())

            folder = DropFolder(self.inbox_dir / folder_name, notification.prefix, upload)
            folder.create()
            self._drop_targets[folder.folder] = f"s3://{bucket}/{notification.prefix}"
            self.drop_folders.append(folder)
        if self.drop_folders:
            loop("drop-folder", self._poll_drop_folders, self.settings.drop_poll_seconds)

    def _tick(self) -> None:
        for run in self.services.clock_service.tick():
            log.info("scheduled %s ran for %s", run.function, run.moment.isoformat())

    def _poll_drop_folders(self) -> None:
        for folder in self.drop_folders:
            folder.poll()

    def _bind_api(self) -> None:
        """Bind the API's socket now (callback URLs need its port); it serves once everything is up."""
        from chalice.config import Config
        from chalice.local import LocalChalice, LocalDevServer, create_local_server

        from app import app

        config = Config(chalice_stage="local")
        # create_local_server makes current_request thread-local (needed by the threaded server) by
        # swapping the app's class; a second stack in the same process must not swap it again.
        if isinstance(app, LocalChalice):
            self._api = LocalDevServer(app, config, HOST, self.settings.port)
        else:
            self._api = create_local_server(app, config, HOST, self.settings.port)

    def _api_port(self) -> int:
        if self._api is None:
            raise StackError("the API is not bound")
        return int(self._api.server.server_address[1])

    def _serve_api(self) -> None:
        if self._api is None:
            raise StackError("the API is not bound")
        self._api_thread = threading.Thread(target=self._api.server.serve_forever, name="api", daemon=True)
        self._api_thread.start()

    # ---- stop --------------------------------------------------------------------------------------

    def stop(self) -> SnapshotCounts | None:
        """Stop serving, stop the workers, save the state (if the stack had started), stop moto.

        Returns what was saved; raises if saving failed, after everything has stopped.
        """
        return self._teardown(save=True)

    def _teardown(self, save: bool) -> SnapshotCounts | None:
        saved: SnapshotCounts | None = None
        failure: BaseException | None = None
        if self._api is not None:
            if self._api_thread is not None:  # shutdown() waits forever for a server never served
                self._api.shutdown()
                self._api_thread.join(_JOIN_SECONDS)
                self._api_thread = None
            self._api.server.server_close()
            self._api = None
        self._stopping.set()
        for thread in self._threads:
            thread.join(_JOIN_SECONDS)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, _JOIN_SECONDS)
        self._threads = []
        if save and self._ready and self.resources is not None:
            try:
                saved = save_snapshot(
                    self._client("dynamodb"), self._client("s3"), self.resources, self.state_dir
                )
                log.info("saved %d items and %d objects to %s", saved.items, saved.objects, self.state_dir)
            except Exception as error:
                log.exception("could not save the state to %s", self.state_dir)
                failure = error
        self._ready = False
        if self._services is not None:
            from chalicelib.container import set_services
            from chalicelib.settings import get_settings

            set_services(None)
            get_settings.cache_clear()
            _forget_table_connections()
            self._services = None
        for simulator in (self.vipps, self.stripe):
            if simulator is not None:
                simulator.stop()
        self.vipps = None
        self.stripe = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._environment.restore()
        if failure is not None:
            raise StackError(f"the state was not saved: {failure}") from failure
        return saved

    # ---- summary -----------------------------------------------------------------------------------

    def summary(self) -> str:
        """What is running where, for people: URLs, names, the admin token, the drop folder, the clock."""
        resources = self.resources
        if resources is None:
            raise StackError("the stack is not started")
        reading = self.services.clock_service.read()
        queue_names = [url.rsplit("/", 1)[-1] for url in resources.queues.values()]
        token_note = (
            "generated; set ABO_ADMIN_TOKEN to choose one"
            if self.admin_token_generated
            else "ABO_ADMIN_TOKEN"
        )
        if self.restored is None:
            state_note = "nothing saved yet, started empty"
        else:
            state_note = f"restored {self.restored.items} item(s) and {self.restored.objects} object(s)"
        lines = [
            f"Abo local stack (stage local, region {self.settings.region})",
            f"  API             {self.api_url}   (GET /health, GET /openapi.json)",
            f"  AWS endpoint    {self.aws_endpoint}   (any credentials; region {self.settings.region})",
            f"  Tables          {', '.join(resources.tables.values())}",
            f"  Bucket          {', '.join(resources.buckets.values())}",
            f"  Queues          {', '.join(queue_names)}",
            f"  Admin token     {self.admin_token}   ({token_note})",
        ]
        if self.seeded is not None:
            offers = ", ".join(f"{name} {ident}" for name, ident in self.seeded.offer_ids.items())
            lines.append(f"  Demo catalog    offers: {offers}")
        if self.vipps is not None and self.stripe is not None:
            lines.append(
                f"  Vipps simulator {self.vipps.public_url}   (POST /simulator/agreements/<id>/approve)"
            )
            lines.append(f"  Stripe (local)  {self.stripe.base_url}   (localstripe behind a shim)")
        for folder in self.drop_folders:
            lines.append(f"  Drop folder     {folder.folder}/ → {self._drop_targets[folder.folder]}")
        lines += [
            f"  State           {self.state_dir} ({state_note}; saved again on Ctrl-C)",
            f"  Platform clock  {reading.now.isoformat()} ({'frozen' if reading.frozen else 'running'})",
            "AWS tools:",
            f"  export AWS_ENDPOINT_URL={self.aws_endpoint} AWS_DEFAULT_REGION={self.settings.region}"
            f" AWS_ACCESS_KEY_ID={DUMMY_CREDENTIAL} AWS_SECRET_ACCESS_KEY={DUMMY_CREDENTIAL}",
            "  aws dynamodb list-tables",
            "Ctrl-C saves the state and stops.",
        ]
        return "\n".join(lines)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def follow_platform_clock(services: Services, vipps: VippsSimulator) -> None:
    """Move the Vipps simulator's clock with the platform's. An advance steps one local day at a time:
    into the day, then Vipps to the day's last second (its charges due that day settle and their
    webhooks are delivered and worked, booked on that day), then the platform to the day's last second,
    running the day's scheduled jobs (Vipps charges must be due from tomorrow)."""
    from chalicelib.container import CLOCK_FUNCTION
    from chalicelib.system.clock_service import ClockAdvanceQueue, ClockService

    vipps.now = max(vipps.now, services.clock.now())

    def vipps_to(moment: datetime) -> None:
        if moment <= vipps.now:
            return
        vipps.advance(moment)
        vipps.wait_for_webhooks(timeout=30)
        services.drainer.drain(exclude=frozenset({CLOCK_FUNCTION}))

    url = services.settings.clock_queue_url
    services.__dict__["clock_service"] = ClockService(
        services.stored_clock,
        services.system_store,
        services.schedule_runner,
        services.job_lock,
        queue=ClockAdvanceQueue(services.sqs, url) if url else None,
        follower=vipps_to,
    )
