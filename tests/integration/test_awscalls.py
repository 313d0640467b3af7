"""Counting and failing AWS calls through botocore's event hooks, against moto."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import boto3
import botocore.session
import pytest

from chalicelib.container import Services
from chalicelib.files.inbound import ArrivedFile
from infra import awscalls
from infra.awscalls import InjectedCrash, count_aws_requests, fail_at_call
from infra.local.resources import LocalResources
from tests.support.aws import REGION


def s3_client() -> Any:
    return boto3.session.Session().client("s3", region_name=REGION)


def test_counts_calls_of_a_client_made_before_the_context(aws: LocalResources) -> None:
    bucket = aws.buckets["DocumentsBucket"]
    s3 = s3_client()
    s3.put_object(Bucket=bucket, Key="before", Body=b"x")  # not counted: no context yet
    with count_aws_requests() as counter:
        s3.put_object(Bucket=bucket, Key="a", Body=b"x")
        s3.get_object(Bucket=bucket, Key="a")
        s3.list_objects_v2(Bucket=bucket)
        s3.list_objects_v2(Bucket=bucket)
    s3.list_objects_v2(Bucket=bucket)  # not counted: the context ended
    assert counter.total == 4
    assert counter.by_operation() == {"s3.PutObject": 1, "s3.GetObject": 1, "s3.ListObjectsV2": 2}
    assert counter.count(service="s3", operation="ListObjectsV2") == 2
    assert counter.count(service="dynamodb") == 0


def test_counts_pynamodb_calls_through_its_cached_connection(services: Services) -> None:
    services.system_store.load_clock()  # PynamoDB makes (and caches) its client here at the latest
    with count_aws_requests() as counter:
        services.system_store.load_clock()
        services.system_store.last_heartbeat()
    assert counter.by_operation() == {"dynamodb.GetItem": 2}


def test_counts_calls_from_every_thread_and_in_nested_contexts(aws: LocalResources) -> None:
    bucket = aws.buckets["DocumentsBucket"]

    def list_twice() -> None:
        s3 = s3_client()  # a client made inside the context, in another thread
        s3.list_objects_v2(Bucket=bucket)
        s3.list_objects_v2(Bucket=bucket)

    with count_aws_requests() as outer:
        with count_aws_requests() as inner:
            workers = [threading.Thread(target=list_twice) for _ in range(4)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        s3_client().list_buckets()
    assert inner.total == 8
    assert outer.by_operation() == {"s3.ListObjectsV2": 8, "s3.ListBuckets": 1}
    assert len({call.thread for call in inner.calls}) == 4


def test_moto_delivering_a_notification_is_not_a_call_of_ours(aws: LocalResources) -> None:
    with count_aws_requests() as counter:
        s3_client().put_object(Bucket=aws.buckets["DocumentsBucket"], Key="ocr/x.txt", Body=b"x")
    assert counter.by_operation() == {"s3.PutObject": 1}


def test_attach_existing_finds_clients_made_before_install(aws: LocalResources) -> None:
    awscalls.install()
    assert awscalls._original_create_client is not None
    raw = awscalls._original_create_client(botocore.session.get_session(), "s3", region_name=REGION)
    with count_aws_requests() as counter:
        raw.list_buckets()
    assert counter.total == 0
    assert awscalls.attach_existing() >= 1
    awscalls.attach(raw)  # attaching again does not count twice
    with count_aws_requests() as counter:
        raw.list_buckets()
    assert counter.by_operation() == {"s3.ListBuckets": 1}


def test_fails_the_nth_call_only_and_before_it_is_sent(aws: LocalResources) -> None:
    bucket = aws.buckets["DocumentsBucket"]
    s3 = s3_client()
    with fail_at_call(2) as fault:
        s3.put_object(Bucket=bucket, Key="first", Body=b"1")
        with pytest.raises(InjectedCrash, match=r"call 2: s3\.PutObject"):
            s3.put_object(Bucket=bucket, Key="second", Body=b"2")
        s3.put_object(Bucket=bucket, Key="third", Body=b"3")
    assert fault.fired
    assert fault.failed_call is not None
    assert fault.failed_call.name == "s3.PutObject"
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert sorted(keys) == ["first", "third"]


def test_a_crash_is_not_absorbed_by_except_exception(aws: LocalResources) -> None:
    s3 = s3_client()
    with fail_at_call(1), pytest.raises(InjectedCrash):
        try:
            s3.list_buckets()
        except Exception:  # pragma: no cover - the point is that this does not run
            pytest.fail("an injected crash must not be an Exception")


def test_filters_by_service_and_operation_and_raises_what_it_is_given(aws: LocalResources) -> None:
    bucket = aws.buckets["DocumentsBucket"]
    s3 = s3_client()
    with fail_at_call(2, ConnectionError("link down"), service="s3", operation="GetObject") as fault:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        s3.get_object(Bucket=bucket, Key="k")
        s3.put_object(Bucket=bucket, Key="k", Body=b"y")
        with pytest.raises(ConnectionError, match="link down"):
            s3.get_object(Bucket=bucket, Key="k")
    assert fault.seen == 2
    with fail_at_call(1, TimeoutError, service="sqs") as untouched:
        s3.get_object(Bucket=bucket, Key="k")
    assert not untouched.fired


def test_after_mode_fails_once_aws_has_done_the_work(aws: LocalResources) -> None:
    bucket = aws.buckets["DocumentsBucket"]
    s3 = s3_client()
    with count_aws_requests() as counter, fail_at_call(1, when="after"), pytest.raises(InjectedCrash):
        s3.put_object(Bucket=bucket, Key="written", Body=b"x")
    assert counter.total == 1
    assert s3.get_object(Bucket=bucket, Key="written")["Body"].read() == b"x"


def test_crashing_at_every_call_in_turn_then_rerunning_records_one_arrival(services: Services) -> None:
    arrived = ArrivedFile(kind="ocr", bucket="b", key="ocr/f.txt", etag="e1", size=3)
    crashes = 0
    while True:
        with fail_at_call(crashes + 1) as fault, contextlib.suppress(InjectedCrash):
            services.inbound_files.record_arrival(arrived)
        services.inbound_files.record_arrival(arrived)
        if not fault.fired:
            break
        crashes += 1
    assert crashes >= 1
    assert [record.file for record in services.inbound_files.arrivals("ocr")] == [arrived]


def test_n_counts_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"), fail_at_call(0):
        pass
