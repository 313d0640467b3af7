"""Saving the local stack's tables and bucket objects into ``var/state/`` and restoring them, through the
public AWS APIs only (Scan/BatchWriteItem, ListObjectsV2/GetObject/PutObject).

Layout of a snapshot directory::

    manifest.json                       what was saved, by the template's logical ids
    tables/<LogicalId>.jsonl            one DynamoDB item a line, in the low-level AttributeValue form
    buckets/<LogicalId>/<sha256(key)>   one file per object (the latest version only)

Queue contents are not saved. A snapshot is written beside the old one and swapped in by renames, so a
crash while saving leaves the previous snapshot intact.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.local.resources import LocalResources

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

FORMAT = 1
MANIFEST = "manifest.json"
_BATCH_WRITE_LIMIT = 25
_BATCH_WRITE_ATTEMPTS = 8

log = logging.getLogger("infra.local.snapshot")


@dataclass(frozen=True)
class SnapshotCounts:
    """How much a save or restore moved."""

    items: int
    objects: int


def _encode(value: Any) -> Any:
    """An AttributeValue (or map of them) as JSON data: binary values become base64 text."""
    if isinstance(value, dict):
        encoded: dict[str, Any] = {}
        for key, inner in value.items():
            if key == "B":
                encoded[key] = base64.b64encode(inner).decode("ascii")
            elif key == "BS":
                encoded[key] = [base64.b64encode(item).decode("ascii") for item in inner]
            else:
                encoded[key] = _encode(inner)
        return encoded
    if isinstance(value, list):
        return [_encode(item) for item in value]
    return value


def _decode(value: Any) -> Any:
    """The inverse of :func:`_encode`."""
    if isinstance(value, dict):
        decoded: dict[str, Any] = {}
        for key, inner in value.items():
            if key == "B" and isinstance(inner, str):
                decoded[key] = base64.b64decode(inner)
            elif key == "BS" and isinstance(inner, list):
                decoded[key] = [base64.b64decode(item) for item in inner]
            else:
                decoded[key] = _decode(inner)
        return decoded
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def _object_file_name(key: str) -> str:
    # Keys may hold slashes, "..", or characters a file system rejects; a hash never does.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def save_snapshot(
    dynamodb: DynamoDBClient, s3: S3Client, resources: LocalResources, state_dir: Path
) -> SnapshotCounts:
    """Write every item of every table and every object of every bucket into ``state_dir``."""
    staging = state_dir.with_name(state_dir.name + ".new")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "tables").mkdir(parents=True)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "saved_at": datetime.now(UTC).isoformat(),
        "tables": {},
        "buckets": {},
    }
    items = 0
    for logical_id, table in resources.tables.items():
        relative = f"tables/{logical_id}.jsonl"
        count = 0
        with open(staging / relative, "w", encoding="utf-8") as out:
            for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                for item in page.get("Items", []):
                    out.write(json.dumps(_encode(item), separators=(",", ":"), sort_keys=True) + "\n")
                    count += 1
        manifest["tables"][logical_id] = {"name": table, "file": relative, "items": count}
        items += count
    objects = 0
    for logical_id, bucket in resources.buckets.items():
        folder = staging / "buckets" / logical_id
        folder.mkdir(parents=True)
        entries: list[dict[str, Any]] = []
        for listing in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for summary in listing.get("Contents", []):
                key = summary["Key"]
                got = s3.get_object(Bucket=bucket, Key=key)
                name = _object_file_name(key)
                (folder / name).write_bytes(got["Body"].read())
                entries.append(
                    {
                        "key": key,
                        "file": f"buckets/{logical_id}/{name}",
                        "content_type": got.get("ContentType", "binary/octet-stream"),
                        "metadata": got.get("Metadata", {}),
                    }
                )
        manifest["buckets"][logical_id] = {"name": bucket, "objects": entries}
        objects += len(entries)
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    previous = state_dir.with_name(state_dir.name + ".old")
    shutil.rmtree(previous, ignore_errors=True)
    if state_dir.exists():
        state_dir.rename(previous)
    staging.rename(state_dir)
    shutil.rmtree(previous, ignore_errors=True)
    return SnapshotCounts(items=items, objects=objects)


def _batch_write(dynamodb: DynamoDBClient, table: str, items: list[dict[str, Any]]) -> None:
    requests: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
    for _ in range(_BATCH_WRITE_ATTEMPTS):
        if not requests:
            return
        response = dynamodb.batch_write_item(RequestItems={table: requests})
        requests = list(response.get("UnprocessedItems", {}).get(table, []))
    if requests:
        raise RuntimeError(f"{len(requests)} items could not be restored into {table}")


def _restore_table(dynamodb: DynamoDBClient, table: str, path: Path) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            batch.append(_decode(json.loads(line)))
            if len(batch) == _BATCH_WRITE_LIMIT:
                _batch_write(dynamodb, table, batch)
                count += len(batch)
                batch = []
    if batch:
        _batch_write(dynamodb, table, batch)
        count += len(batch)
    return count


def _restore_objects(s3: S3Client, bucket: str, entries: list[dict[str, Any]], state_dir: Path) -> int:
    # Restored objects were imported before the snapshot was taken: S3 must not announce them again.
    # Notifications are switched off while they are put back, then the template's configuration (as
    # create_resources put it) is restored unchanged. This does not depend on moto delivering
    # notifications synchronously, which purging the queues afterwards would.
    configuration: dict[str, Any] = dict(s3.get_bucket_notification_configuration(Bucket=bucket))
    configuration.pop("ResponseMetadata", None)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    try:
        for entry in entries:
            s3.put_object(
                Bucket=bucket,
                Key=entry["key"],
                Body=(state_dir / entry["file"]).read_bytes(),
                ContentType=entry.get("content_type") or "binary/octet-stream",
                Metadata=entry.get("metadata") or {},
            )
    finally:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=configuration)  # type: ignore[arg-type]
    return len(entries)


def restore_snapshot(
    dynamodb: DynamoDBClient, s3: S3Client, resources: LocalResources, state_dir: Path
) -> SnapshotCounts | None:
    """Put a saved snapshot back into freshly created resources; None when there is no snapshot.

    Tables and buckets are matched by the template's logical id; one the template no longer declares is
    skipped with a warning.
    """
    manifest_path = state_dir / MANIFEST
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{manifest_path} has format {manifest.get('format')!r}; expected {FORMAT}")
    items = 0
    for logical_id, saved in manifest.get("tables", {}).items():
        table = resources.tables.get(logical_id)
        if table is None:
            log.warning("snapshot table %s is not in the template any more; skipped", logical_id)
            continue
        items += _restore_table(dynamodb, table, state_dir / saved["file"])
    objects = 0
    for logical_id, saved in manifest.get("buckets", {}).items():
        bucket = resources.buckets.get(logical_id)
        if bucket is None:
            log.warning("snapshot bucket %s is not in the template any more; skipped", logical_id)
            continue
        if saved.get("objects"):
            objects += _restore_objects(s3, bucket, saved["objects"], state_dir)
    return SnapshotCounts(items=items, objects=objects)
