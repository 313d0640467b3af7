"""Create the template's tables, bucket and queues in the AWS emulator, read from template.yaml."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from chalicelib.jobs.template import LOCAL_ACCOUNT, STACK_NAME, logical_id_of, resolve_name


@dataclass(frozen=True)
class LocalResources:
    """Physical names of what was created, by logical id."""

    tables: dict[str, str]
    buckets: dict[str, str]
    queues: dict[str, str]  # logical id → queue URL

    def settings_environment(self) -> dict[str, str]:
        """The ABO_* variables that point the platform at these resources."""
        return {
            "ABO_MAIN_TABLE": self.tables["MainTable"],
            "ABO_EVENTS_TABLE": self.tables["EventsTable"],
            "ABO_IDEMPOTENCY_TABLE": self.tables["IdempotencyTable"],
            "ABO_DOCUMENTS_BUCKET": self.buckets["DocumentsBucket"],
            "ABO_DRAFT_REBUILD_QUEUE_URL": self.queues["DraftRebuildQueue"],
            "ABO_INVOICE_RUN_QUEUE_URL": self.queues["InvoiceRunQueue"],
            "ABO_DUNNING_QUEUE_URL": self.queues["DunningRunQueue"],
            "ABO_NOTIFICATION_QUEUE_URL": self.queues["NotificationQueue"],
            "ABO_PAYMENT_EVENTS_QUEUE_URL": self.queues["PaymentEventsQueue"],
            "ABO_CLOCK_QUEUE_URL": self.queues["ClockAdvanceQueue"],
        }


def _of_type(template: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, resource.get("Properties", {}))
        for logical_id, resource in template["Resources"].items()
        if resource.get("Type") == kind
    ]


def _create_table(client: Any, name: str, properties: dict[str, Any]) -> None:
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "KeySchema": properties["KeySchema"],
        "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
    if properties.get("StreamSpecification"):
        request["StreamSpecification"] = {"StreamEnabled": True, **properties["StreamSpecification"]}
    client.create_table(**request)
    ttl = properties.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )


def create_resources(
    template: dict[str, Any], region: str, stack_name: str = STACK_NAME, account: str = LOCAL_ACCOUNT
) -> LocalResources:
    """Create (or find) every table, queue and bucket the template declares, with its notifications."""
    session = boto3.session.Session(region_name=region)
    dynamodb: Any = session.client("dynamodb")
    sqs: Any = session.client("sqs")
    s3: Any = session.client("s3")

    existing_tables = set(dynamodb.list_tables()["TableNames"])
    tables: dict[str, str] = {}
    for logical_id, properties in _of_type(template, "AWS::DynamoDB::Table"):
        name = resolve_name(properties["TableName"], stack_name, account)
        if name not in existing_tables:
            _create_table(dynamodb, name, properties)
        tables[logical_id] = name

    queue_properties = dict(_of_type(template, "AWS::SQS::Queue"))
    queues: dict[str, str] = {}
    arns: dict[str, str] = {}

    def create_queue(logical_id: str) -> str:
        if logical_id in queues:
            return str(queues[logical_id])
        properties = queue_properties[logical_id]
        attributes: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "ReceiveMessageWaitTimeSeconds",
        ):
            if key in properties:
                attributes[key] = str(properties[key])
        redrive = properties.get("RedrivePolicy")
        if redrive:
            create_queue(logical_id_of(redrive["deadLetterTargetArn"]))
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": arns[logical_id_of(redrive["deadLetterTargetArn"])],
                    "maxReceiveCount": str(redrive["maxReceiveCount"]),
                }
            )
        url: str = sqs.create_queue(
            QueueName=resolve_name(properties["QueueName"], stack_name, account), Attributes=attributes
        )["QueueUrl"]
        queues[logical_id] = url
        arns[logical_id] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return url

    for logical_id in queue_properties:
        create_queue(logical_id)

    buckets: dict[str, str] = {}
    existing_buckets = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for logical_id, properties in _of_type(template, "AWS::S3::Bucket"):
        name = resolve_name(properties["BucketName"], stack_name, account)
        if name not in existing_buckets:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        configurations = properties.get("NotificationConfiguration", {}).get("QueueConfigurations", [])
        if configurations:
            s3.put_bucket_notification_configuration(
                Bucket=name,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "QueueArn": arns[logical_id_of(item["Queue"])],
                            "Events": [item["Event"]],
                            **(
                                {
                                    "Filter": {
                                        "Key": {
                                            "FilterRules": [
                                                {"Name": rule["Name"], "Value": rule["Value"]}
                                                for rule in item["Filter"]["S3Key"]["Rules"]
                                            ]
                                        }
                                    }
                                }
                                if "Filter" in item
                                else {}
                            ),
                        }
                        for item in configurations
                    ]
                },
            )
        buckets[logical_id] = name
    return LocalResources(tables=tables, buckets=buckets, queues=queues)
