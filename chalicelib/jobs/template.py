"""Reading template.yaml: CloudFormation YAML with its short-form intrinsic tags, and what it wires.

The template is the single source of truth for tables, bucket, queues, schedules and consumers; the local
stack and the test-clock runner read it here instead of repeating it in code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STACK_NAME = "abo"
LOCAL_ACCOUNT = "123456789012"  # moto's default account


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader reading ``!Ref x`` as ``{"Ref": x}`` and ``!GetAtt a.b`` as ``{"Fn::GetAtt": [a, b]}``."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template file into plain data."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise ValueError(f"{path} is not a CloudFormation template")
    return document


def resolve_name(value: Any, stack_name: str = STACK_NAME, account: str = LOCAL_ACCOUNT) -> str:
    """A resource's physical name: a literal, or ``!Sub`` over the stack name and account id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return (
            str(value["Fn::Sub"])
            .replace("${AWS::StackName}", stack_name)
            .replace("${AWS::AccountId}", account)
        )
    raise ValueError(f"cannot resolve a physical name from {value!r}")


def logical_id_of(reference: Any) -> str:
    """The logical id behind ``!Ref X``, ``!GetAtt X.Arn`` or ``!GetAtt X.QueueName``."""
    if isinstance(reference, dict):
        if "Ref" in reference:
            return str(reference["Ref"])
        if "Fn::GetAtt" in reference:
            return str(reference["Fn::GetAtt"][0])
    raise ValueError(f"not a reference: {reference!r}")


@dataclass(frozen=True)
class ScheduleWiring:
    """A function fired by an EventBridge schedule."""

    name: str
    function: str
    handler: str
    expression: str
    catch_up: str  # "every": each scheduled moment passed runs; "latest": only the last one does

    @property
    def key(self) -> str:
        """Unique across the template (event names such as ``Daily`` repeat): ``Function-Event``."""
        return f"{self.function}-{self.name}"


@dataclass(frozen=True)
class QueueWiring:
    """A function consuming an SQS queue."""

    function: str
    handler: str
    queue_logical_id: str
    queue_name: str
    batch_size: int


@dataclass(frozen=True)
class StreamWiring:
    """A function consuming a DynamoDB table's stream (the events dispatcher)."""

    function: str
    handler: str
    table_logical_id: str
    table_name: str
    batch_size: int
    event_names: frozenset[str]  # the FilterCriteria's eventName values (empty: every record)
    maximum_retry_attempts: int
    on_failure_queue_name: str | None  # Lambda's on-failure destination (an SQS queue)


@dataclass(frozen=True)
class BucketNotification:
    """Objects created under ``prefix`` in a bucket are announced on a queue."""

    bucket_logical_id: str
    prefix: str
    queue_logical_id: str


@dataclass(frozen=True)
class Wiring:
    """Everything template.yaml connects to a handler."""

    schedules: tuple[ScheduleWiring, ...]
    queues: tuple[QueueWiring, ...]
    notifications: tuple[BucketNotification, ...]
    functions: dict[str, str]  # logical id → handler
    streams: tuple[StreamWiring, ...] = ()


def _resources(template: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, resource)
        for logical_id, resource in template["Resources"].items()
        if isinstance(resource, dict) and resource.get("Type") == kind
    ]


def read_wiring(template: dict[str, Any], stack_name: str = STACK_NAME) -> Wiring:
    """Collect every schedule, queue consumer and bucket notification the template declares."""
    queue_names = {
        logical_id: resolve_name(resource["Properties"]["QueueName"], stack_name)
        for logical_id, resource in _resources(template, "AWS::SQS::Queue")
    }
    table_names = {
        logical_id: resolve_name(resource["Properties"]["TableName"], stack_name)
        for logical_id, resource in _resources(template, "AWS::DynamoDB::Table")
    }
    schedules: list[ScheduleWiring] = []
    queues: list[QueueWiring] = []
    streams: list[StreamWiring] = []
    functions: dict[str, str] = {}
    for logical_id, resource in _resources(template, "AWS::Serverless::Function"):
        properties = resource.get("Properties", {})
        handler = str(properties["Handler"])
        functions[logical_id] = handler
        catch_up = str(resource.get("Metadata", {}).get("Abo", {}).get("CatchUp", "every"))
        for event_name, event in (properties.get("Events") or {}).items():
            event_properties = event.get("Properties", {})
            if event["Type"] in ("Schedule", "ScheduleV2"):
                expression = event_properties.get("Schedule") or event_properties.get("ScheduleExpression")
                schedules.append(ScheduleWiring(event_name, logical_id, handler, str(expression), catch_up))
            elif event["Type"] == "SQS":
                queue_id = logical_id_of(event_properties["Queue"])
                queues.append(
                    QueueWiring(
                        logical_id,
                        handler,
                        queue_id,
                        queue_names[queue_id],
                        int(event_properties.get("BatchSize", 10)),
                    )
                )
            elif event["Type"] == "DynamoDB":
                streams.append(
                    _stream_wiring(logical_id, handler, event_properties, table_names, queue_names)
                )
    notifications: list[BucketNotification] = []
    for logical_id, resource in _resources(template, "AWS::S3::Bucket"):
        config = resource.get("Properties", {}).get("NotificationConfiguration", {})
        for queue_config in config.get("QueueConfigurations", []):
            rules = queue_config.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            prefix = next((str(rule["Value"]) for rule in rules if rule["Name"].lower() == "prefix"), "")
            notifications.append(BucketNotification(logical_id, prefix, logical_id_of(queue_config["Queue"])))
    return Wiring(tuple(schedules), tuple(queues), tuple(notifications), functions, tuple(streams))


def _stream_wiring(
    function: str,
    handler: str,
    properties: dict[str, Any],
    table_names: dict[str, str],
    queue_names: dict[str, str],
) -> StreamWiring:
    table_id = logical_id_of(properties["Stream"])
    event_names: set[str] = set()
    for rule in properties.get("FilterCriteria", {}).get("Filters", []):
        event_names |= {str(name) for name in json.loads(rule["Pattern"]).get("eventName", [])}
    destination = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
    return StreamWiring(
        function,
        handler,
        table_id,
        table_names[table_id],
        int(properties.get("BatchSize", 100)),
        frozenset(event_names),
        int(properties.get("MaximumRetryAttempts", -1)),
        queue_names[logical_id_of(destination)] if destination else None,
    )
