"""Signed upload slots: outdial hands a caller a policy (a key, an expiry, a size limit) signed
with its own secret, and later takes a file posted with that policy, with no API key, as a
browser form post to an object store works (Alibaba's GetJobDataUploadParams → OSS PostObject).
The file is kept under the data directory until a job reads it."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from outdial.clock import Clock
from outdial.domain import limits
from outdial.domain.errors import Forbidden, ValidationFailed
from outdial.io.files import FileStore
from outdial.services.downloads import LinkSigner

SLOT_SECONDS = 3600
KEEP_SECONDS = 7 * 86400  # an uploaded file is kept a week for the jobs that read it
SWEEP_SECONDS = 3600  # old uploads are looked for at most this often
FILE = "upload"
PREFIX = "upload-"


@dataclass(frozen=True)
class Offer:
    key: str
    policy: str  # base64 of the policy's JSON
    signature: str
    expires: int  # unix seconds


class UploadService:
    def __init__(self, files: FileStore, links: LinkSigner, clock: Clock):
        self.files, self.links, self.clock = files, links, clock
        self._swept: datetime | None = None

    def offer(self, key: str, seconds: int = SLOT_SECONDS) -> Offer:
        """A signed policy to upload one file under ``key`` within ``seconds`` (old uploads
        are swept first, now and then)."""
        self._sweep_now_and_then()
        expires = self.clock.now().replace(microsecond=0) + timedelta(seconds=seconds)
        document = {
            "expiration": expires.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                ["eq", "$key", key],
                ["content-length-range", 1, limits.IMPORT_BYTES_MAX],
            ],
        }
        policy = base64.b64encode(json.dumps(document).encode()).decode()
        return Offer(key, policy, self.links.seal(policy), int(expires.timestamp()))

    def accept(self, policy: str, signature: str, key: str, stream: BinaryIO) -> Path:
        """Keep the file posted under ``key`` with a policy outdial signed. Raises Forbidden
        (not outdial's policy, expired, another key) or LimitExceeded / ValidationFailed
        (its size), keeping nothing."""
        if not self.links.sealed(policy, signature):
            raise Forbidden("the upload policy's signature does not match")
        document = _document(policy)
        expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.000Z")
        if expiration.replace(tzinfo=UTC) < self.clock.now():
            raise Forbidden("Invalid according to Policy: Policy expired.")
        for condition in document["conditions"]:
            if condition[0] == "eq" and condition[1] == "$key" and condition[2] != key:
                raise Forbidden(
                    f"Invalid according to Policy: Policy Condition failed: {condition}"
                )
        directory = _directory(key)
        size = self.files.save(directory, FILE, stream, limits.IMPORT_BYTES_MAX)
        if size == 0:
            self.files.remove(directory)
            raise ValidationFailed.field("file", "the file is empty", "too_short")
        return self.files.root / directory / FILE

    def sweep(self, keep_seconds: float = KEEP_SECONDS) -> int:
        """Remove the uploads older than ``keep_seconds``; how many."""
        cutoff = self.clock.now().timestamp() - keep_seconds
        removed = 0
        for directory in self.files.root.glob(PREFIX + "*"):
            path = directory / FILE
            if not path.is_file() or path.stat().st_mtime < cutoff:
                self.files.remove(directory.name)
                removed += 1
        return removed

    def _sweep_now_and_then(self) -> None:
        now = self.clock.now()
        if self._swept is None or (now - self._swept).total_seconds() >= SWEEP_SECONDS:
            self._swept = now
            self.sweep()

    def path_of(self, key: str) -> Path | None:
        """The file uploaded under ``key``, if one was."""
        path = self.files.root / _directory(key) / FILE
        return path if path.is_file() else None


def _document(policy: str) -> dict[str, Any]:
    try:
        value: dict[str, Any] = json.loads(base64.b64decode(policy))
    except (ValueError, json.JSONDecodeError) as exc:  # signed by us, so never in practice
        raise Forbidden("the upload policy cannot be read") from exc
    return value


def _directory(key: str) -> str:
    """Where the file of ``key`` lives: a name of its own, whatever the key holds."""
    return PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]
