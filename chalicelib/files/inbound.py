"""Recording that a file arrived in the bucket, once per object version, before it is imported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError

from chalicelib.clock import Clock
from chalicelib.store.base import MainItem


class InboundFileItem(MainItem):
    """One object that arrived under an import prefix (pk ``INBOUND#<kind>``, sk the key and ETag)."""

    bucket = UnicodeAttribute()
    key = UnicodeAttribute()
    etag = UnicodeAttribute()
    size = NumberAttribute()
    received_at = UTCDateTimeAttribute()
    status = UnicodeAttribute()


@dataclass(frozen=True)
class ArrivedFile:
    """An object announced by S3."""

    kind: str
    bucket: str
    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class ArrivalRecord:
    """The stored arrival and whether this call created it."""

    file: ArrivedFile
    received_at: datetime
    new: bool


class InboundFiles:
    """Keeps one arrival record per object version; a redelivered notification changes nothing."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    def record_arrival(self, file: ArrivedFile) -> ArrivalRecord:
        """Record ``file`` unless it was recorded before."""
        received_at = self._clock.now()
        item = InboundFileItem(
            f"INBOUND#{file.kind}",
            f"{file.key}#{file.etag}",
            bucket=file.bucket,
            key=file.key,
            etag=file.etag,
            size=file.size,
            received_at=received_at,
            status="received",
        )
        try:
            item.save(condition=InboundFileItem.pk.does_not_exist())
        except PutError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            existing = InboundFileItem.get(item.pk, item.sk, consistent_read=True)
            return ArrivalRecord(file, existing.received_at, new=False)
        return ArrivalRecord(file, received_at, new=True)

    def arrivals(self, kind: str) -> list[ArrivalRecord]:
        """Every arrival of one kind, oldest key first."""
        return [
            ArrivalRecord(
                ArrivedFile(kind, item.bucket, item.key, item.etag, int(item.size)),
                item.received_at,
                new=False,
            )
            for item in InboundFileItem.query(f"INBOUND#{kind}", consistent_read=True)
        ]
