"""The drop folder: files saved into ``var/inbox/<prefix>`` are put into the bucket under ``<prefix>``, so
that the same S3 → SQS → function path runs as in AWS.

A file is uploaded once its size and modification time are the same on two polls in a row (a file still
being written waits), then moved into ``.done/`` beside it so it is not uploaded again. Hidden files
(editors' temporaries, ``.done``) and sub-folders are ignored. If the process dies between the upload
and the move, the file is uploaded again on the next start; the import is idempotent per object content.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

DONE = ".done"

log = logging.getLogger("infra.local.dropfolder")

Upload = Callable[[Path, str], None]
"""Put the file at the path into the bucket under the key."""


class DropFolder:
    """One inbox folder feeding one bucket prefix."""

    def __init__(self, folder: Path, prefix: str, upload: Upload) -> None:
        self.folder = folder
        self.prefix = prefix
        self._upload = upload
        self._seen: dict[Path, tuple[int, int]] = {}

    def create(self) -> None:
        """Make the inbox and its ``.done`` folder."""
        (self.folder / DONE).mkdir(parents=True, exist_ok=True)

    def poll(self) -> list[str]:
        """Upload and move every file that stopped changing since the last poll; returns the keys put."""
        current: dict[Path, tuple[int, int]] = {}
        for path in sorted(self.folder.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:  # moved away between listing and stat
                continue
            current[path] = (stat.st_size, stat.st_mtime_ns)
        uploaded: list[str] = []
        for path, signature in current.items():
            if self._seen.get(path) != signature:
                continue  # new or still growing: look again next poll
            key = f"{self.prefix}{path.name}"
            try:
                self._upload(path, key)
            except Exception:
                log.exception("could not upload %s; retrying on the next poll", path)
                continue
            path.replace(self._done_path(path.name))
            uploaded.append(key)
            log.info("dropped %s → s3 key %s", path.name, key)
        self._seen = {path: sig for path, sig in current.items() if path.exists()}
        return uploaded

    def _done_path(self, name: str) -> Path:
        target = self.folder / DONE / name
        if not target.exists():
            return target
        # The same name dropped again: keep both, the newer one stamped.
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return self.folder / DONE / f"{target.stem}.{stamp}{target.suffix}"
