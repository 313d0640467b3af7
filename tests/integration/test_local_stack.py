"""The local stack behind `make run`: started as a real subprocess on free ports with its own var dir, and
checked over HTTP and the AWS APIs the way a developer would use it. Two fast in-process tests pin the
drop folder's and the snapshot's subtle parts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote_plus

import boto3
import pytest
import requests

from infra.local.dropfolder import DropFolder
from infra.local.resources import LocalResources
from infra.local.snapshot import restore_snapshot, save_snapshot
from tests.support.aws import REGION, fresh_resources

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "local-stack-test-token"
HEALTHY_WITHIN = 30.0
T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout:.0f} s")
        time.sleep(0.2)


class StackProcess:
    """``python -m infra.local`` in a subprocess, its output in a file."""

    def __init__(self, var_dir: Path, log_path: Path) -> None:
        self.var_dir = var_dir
        self.log_path = log_path
        # Known once the stack prints its summary: it binds free ports itself (ABO_PORT=0), since a port
        # probed free here could be taken before the subprocess binds it.
        self.api = ""
        self.aws_endpoint = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # The test session may itself point AWS_* at its own moto; the stack must not inherit that.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ABO_", "AWS_"))}
        env.update(
            ABO_PORT="0",
            ABO_AWS_PORT="0",
            ABO_VAR_DIR=str(self.var_dir),
            ABO_ADMIN_TOKEN=TOKEN,
            PYTHONUNBUFFERED="1",
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "infra.local"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def output(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self, timeout: float = HEALTHY_WITHIN) -> float:
        """Seconds until GET /health answered 200."""
        assert self.process is not None
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise AssertionError(f"the stack exited with {self.process.returncode}:\n{self.output}")
            if not self.api and not self._read_urls():
                time.sleep(0.2)
                continue
            try:
                if requests.get(f"{self.api}/health", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"/health was not 200 within {timeout:.0f} s:\n{self.output}")

    def _read_urls(self) -> bool:
        """Take the API's and moto's URLs from the summary, once it is printed."""
        api = re.search(r"^  API +(http://\S+)", self.output, re.MULTILINE)
        aws = re.search(r"^  AWS endpoint +(http://\S+)", self.output, re.MULTILINE)
        if api is None or aws is None:
            return False
        self.api, self.aws_endpoint = api.group(1), aws.group(1)
        return True

    def interrupt(self, timeout: float = 20.0) -> int:
        """Ctrl-C, and the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """Make sure nothing is left running."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def client(self, service: str) -> Any:
        """A boto3 client against the stack's moto."""
        session = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
        )
        return session.client(service, endpoint_url=self.aws_endpoint)  # type: ignore[call-overload]

    def arrivals(self) -> list[dict[str, Any]]:
        """The OCR import's arrival records, straight from the main table."""
        items: list[dict[str, Any]] = self.client("dynamodb").query(
            TableName="abo-main",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "INBOUND#ocr"}},
            ConsistentRead=True,
        )["Items"]
        return items


@contextmanager
def running_stack(var_dir: Path, log_path: Path) -> Iterator[StackProcess]:
    """A healthy stack; killed on the way out whatever happened."""
    stack = StackProcess(var_dir, log_path)
    try:
        stack.start()
        stack.wait_healthy()
        yield stack
    finally:
        stack.kill()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One stack shared by the tests that do not restart it."""
    root = tmp_path_factory.mktemp("local-stack")
    with running_stack(root / "var", root / "stack.log") as running:
        yield running
        assert running.interrupt() == 0, running.output


def drop(stack: StackProcess, name: str, content: bytes) -> Path:
    """Save a file into the OCR drop folder the way an editor or a copy would: write, then rename."""
    inbox = stack.var_dir / "inbox" / "ocr"
    partial = inbox / f".{name}.part"
    partial.write_bytes(content)
    partial.rename(inbox / name)
    return inbox / name


OCR_FILE = b"NY000010" + b"0" * 72 + b"\n"


# ---- the acceptance checks, against a real subprocess ------------------------------------------


def test_starts_healthy_and_serves_the_api_and_the_templates_resources(stack: StackProcess) -> None:
    health = requests.get(f"{stack.api}/health", timeout=5)
    assert health.status_code == 200
    assert health.json()["stage"] == "local"

    paths = requests.get(f"{stack.api}/openapi.json", timeout=5).json()["paths"]
    assert {"/health", "/v1/test/clock"} <= set(paths)

    assert {"abo-main", "abo-idempotency"} <= set(stack.client("dynamodb").list_tables()["TableNames"])
    buckets = {bucket["Name"] for bucket in stack.client("s3").list_buckets()["Buckets"]}
    assert "abo-documents-123456789012" in buckets
    queues = stack.client("sqs").list_queues()["QueueUrls"]
    assert any(url.endswith("/abo-ocr-import") for url in queues)

    summary = stack.output
    for expected in (stack.api, stack.aws_endpoint, "abo-main", "abo-documents-123456789012", TOKEN):
        assert expected in summary
    assert str(stack.var_dir / "inbox" / "ocr") in summary
    # The workers start together; once, two of them imported netsgiro at the same moment and failed.
    assert '"level":"ERROR"' not in summary


def test_a_dropped_file_reaches_the_ocr_import_through_s3_and_sqs(stack: StackProcess) -> None:
    drop(stack, "giro-0001.txt", OCR_FILE)

    arrivals = eventually(stack.arrivals, 20, "the OCR import did not record the dropped file")

    assert [item["key"]["S"] for item in arrivals] == ["ocr/giro-0001.txt"]
    assert arrivals[0]["size"]["N"] == str(len(OCR_FILE))
    assert (stack.var_dir / "inbox" / "ocr" / ".done" / "giro-0001.txt").read_bytes() == OCR_FILE
    assert not (stack.var_dir / "inbox" / "ocr" / "giro-0001.txt").exists()


def wait_until_ready(api: str, headers: dict[str, str], timeout: float = 300.0) -> dict[str, Any]:
    """Read the test clock until its advance has finished."""

    def ready() -> dict[str, Any] | None:
        reading: dict[str, Any] = requests.get(f"{api}/v1/test/clock", headers=headers, timeout=5).json()
        return reading if reading["status"] == "ready" else None

    return eventually(ready, timeout, "the clock did not finish advancing")


def test_a_running_clock_advances_by_days_as_the_readme_shows(stack: StackProcess) -> None:
    """The README's example on the default running clock: a date some days ahead, then another. This
    answered 409 "the clock never moves backwards" when an advance crossed more than a day."""
    admin = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"{stack.api}/v1/test/clock"
    before = requests.get(url, headers=admin, timeout=5).json()
    assert (before["frozen"], before["status"]) == (False, "ready")
    start = date.fromisoformat(before["now"][:10])
    for days in (3, 5):
        target = (start + timedelta(days=days)).isoformat()
        moved = requests.post(url, json={"advance_to": target}, headers=admin, timeout=30)
        assert moved.status_code == 202, moved.text
        assert moved.json()["advancing_to"] is not None
        reading = wait_until_ready(stack.api, admin)
        # Midnight in Oslo of the target date, and running on from there.
        assert reading["now"] >= f"{start + timedelta(days=days - 1)}T22:00:00Z", reading
        assert reading["frozen"] is False


def test_bad_input_to_the_test_clock_is_a_problem_over_http(stack: StackProcess) -> None:
    url = f"{stack.api}/v1/test/clock"
    admin = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    cases: list[tuple[dict[str, str], bytes, int]] = [
        (admin, b"not json", 400),
        (admin, b'{"advance_to": "yesterday"}', 422),
        (admin, b'{"advance_to": "2027-01-02T00:00:00"}', 422),
        ({"Content-Type": "application/json"}, b'{"advance_to": "2030-01-01"}', 401),
        ({**admin, "Authorization": "Bearer wrong"}, b'{"advance_to": "2030-01-01"}', 401),
    ]
    for headers, body, status in cases:
        response = requests.post(url, data=body, headers=headers, timeout=10)
        assert response.status_code == status, (body, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert {"type", "title", "status", "detail"} <= set(problem)
        assert problem["status"] == status
        if status == 422:
            assert problem["errors"]


def test_state_survives_a_restart_without_importing_restored_files_again(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    admin = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

    # Given a stack that imported a file and whose clock was moved
    with running_stack(var_dir, tmp_path / "first.log") as first:
        drop(first, "giro-restart.txt", OCR_FILE)
        eventually(first.arrivals, 20, "the OCR import did not record the dropped file")
        # Two days ahead of wall time (each platform day runs the daily jobs; years would take minutes)
        target = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
        moved = requests.post(
            f"{first.api}/v1/test/clock",
            json={"advance_to": target.isoformat(), "frozen": True},
            headers=admin,
            timeout=60,
        )
        assert moved.status_code == 202, moved.text
        wait_until_ready(first.api, admin)
        # When it is stopped with Ctrl-C
        assert first.interrupt() == 0, first.output
    assert "OCR file arrived" in first.output  # what the import logs, looked for again below
    assert (var_dir / "state" / "manifest.json").exists()

    # Then a new stack on the same var dir has the same data
    with running_stack(var_dir, tmp_path / "second.log") as second:
        clock = requests.get(f"{second.api}/v1/test/clock", headers=admin, timeout=5).json()
        assert clock == {
            "now": target.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "frozen": True,
            "status": "ready",
            "advancing_to": None,
        }
        arrivals = second.arrivals()
        assert [item["key"]["S"] for item in arrivals] == ["ocr/giro-restart.txt"]
        restored = second.client("s3").get_object(
            Bucket="abo-documents-123456789012", Key="ocr/giro-restart.txt"
        )
        assert restored["Body"].read() == OCR_FILE

        # and putting the object back did not announce it to the import again. The arrival record is
        # idempotent per content, so the table alone cannot tell; the queue and the import's log can.
        sqs = second.client("sqs")
        queue = sqs.get_queue_url(QueueName="abo-ocr-import")["QueueUrl"]

        def queue_empty() -> bool:
            attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
            return bool(
                attributes["ApproximateNumberOfMessages"] == "0"
                and attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
            )

        time.sleep(1.5)  # longer than a consumer's long poll
        eventually(queue_empty, 10, "the OCR queue did not drain")
        assert "OCR file arrived" not in second.output
        assert second.interrupt() == 0, second.output


# ---- the parts that are hard to see from outside, in process -----------------------------------------


def test_the_drop_folder_waits_until_a_file_stops_growing(tmp_path: Path) -> None:
    uploaded: dict[str, bytes] = {}
    folder = DropFolder(
        tmp_path / "ocr", "ocr/", lambda path, key: uploaded.__setitem__(key, path.read_bytes())
    )
    folder.create()
    growing = tmp_path / "ocr" / "big.txt"
    (tmp_path / "ocr" / ".hidden.swp").write_bytes(b"editor")

    growing.write_bytes(b"first half ")
    assert folder.poll() == []  # first sight
    with open(growing, "ab") as more:
        more.write(b"second half")
    assert folder.poll() == []  # still changing
    assert folder.poll() == ["ocr/big.txt"]  # unchanged since the last poll

    assert uploaded == {"ocr/big.txt": b"first half second half"}
    assert (tmp_path / "ocr" / ".done" / "big.txt").exists()
    assert not growing.exists()
    assert folder.poll() == []

    # The same name dropped again is uploaded again and kept beside the first in .done
    growing.write_bytes(b"again")
    folder.poll()
    assert folder.poll() == ["ocr/big.txt"]
    assert len(list((tmp_path / "ocr" / ".done").iterdir())) == 2


def test_a_snapshot_restores_items_and_objects_without_announcing_the_objects(
    aws: LocalResources, moto_endpoint: str, tmp_path: Path
) -> None:
    dynamodb: Any = boto3.client("dynamodb")
    s3: Any = boto3.client("s3")
    sqs: Any = boto3.client("sqs")
    table, bucket = aws.tables["MainTable"], aws.buckets["DocumentsBucket"]
    queue = aws.queues["OcrImportQueue"]
    item = {
        "pk": {"S": "TEST#1"},
        "sk": {"S": "A"},
        "raw": {"B": b"\x00\xffbytes"},
        "set": {"BS": [b"\x01", b"\x02"]},
        "nested": {"M": {"list": {"L": [{"N": "12"}, {"B": b"\x03"}, {"NULL": True}]}}},
    }
    dynamodb.put_item(TableName=table, Item=item)
    s3.put_object(Bucket=bucket, Key="ocr/a file+name.txt", Body=b"content", ContentType="text/plain")

    saved = save_snapshot(dynamodb, s3, aws, tmp_path / "state")
    assert (saved.items, saved.objects) == (1, 1)

    resources = fresh_resources(moto_endpoint)
    sqs.purge_queue(QueueUrl=queue)  # the template's s3:TestEvent from creating the bucket
    restored = restore_snapshot(dynamodb, s3, resources, tmp_path / "state")

    assert restored is not None and (restored.items, restored.objects) == (1, 1)
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "TEST#1"}, "sk": {"S": "A"}})["Item"] == item
    got = s3.get_object(Bucket=bucket, Key="ocr/a file+name.txt")
    assert (got["Body"].read(), got["ContentType"]) == (b"content", "text/plain")
    events = [
        json.loads(message["Body"]).get("Event", "object event")
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert "object event" not in events  # only the s3:TestEvent of putting the configuration back
    # and the template's notification is in force again afterwards
    s3.put_object(Bucket=bucket, Key="ocr/new.txt", Body=b"new")
    later = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    keys = [
        unquote_plus(record["s3"]["object"]["key"])
        for message in later
        for record in json.loads(message["Body"]).get("Records", [])
    ]
    assert keys == ["ocr/new.txt"]


def test_no_snapshot_means_an_empty_start(aws: LocalResources, tmp_path: Path) -> None:
    assert restore_snapshot(boto3.client("dynamodb"), boto3.client("s3"), aws, tmp_path / "state") is None
