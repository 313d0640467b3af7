"""A file put under ocr/ in the bucket reaches the OCR import function through S3 → SQS, once."""

from __future__ import annotations

from chalicelib.container import Services


def test_an_ocr_file_arrives_through_s3_and_sqs_once(services: Services) -> None:
    bucket = services.settings.documents_bucket
    # Given a file put into the bucket under ocr/ (the key needs URL-decoding: S3 encodes spaces as '+')
    services.s3.put_object(Bucket=bucket, Key="ocr/OCR 2027-01-02.txt", Body=b"NY000010" + b"0" * 72)
    # When queued work settles
    services.drainer.drain()
    # Then exactly one arrival is recorded, under the decoded key
    arrivals = services.inbound_files.arrivals("ocr")
    assert [(a.file.key, a.file.size) for a in arrivals] == [("ocr/OCR 2027-01-02.txt", 80)]
    # And a redelivered notification changes nothing
    etag = arrivals[0].file.etag
    again = services.inbound_files.record_arrival(arrivals[0].file)
    assert not again.new
    assert [a.file.etag for a in services.inbound_files.arrivals("ocr")] == [etag]


def test_files_outside_ocr_are_not_announced(services: Services) -> None:
    services.s3.put_object(Bucket=services.settings.documents_bucket, Key="exports/x.csv", Body=b"a,b")
    services.drainer.drain()
    assert services.inbound_files.arrivals("ocr") == []


def test_a_poison_message_ends_in_the_dead_letter_queue(services: Services) -> None:
    queue = services.sqs.get_queue_url(QueueName="abo-ocr-import")["QueueUrl"]
    services.sqs.send_message(QueueUrl=queue, MessageBody="this is not an S3 notification")
    services.drainer.drain()
    dead = services.sqs.get_queue_url(QueueName="abo-ocr-import-dlq")["QueueUrl"]
    received = services.sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10)
    assert [m["Body"] for m in received.get("Messages", [])] == ["this is not an S3 notification"]
