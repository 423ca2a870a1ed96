"""Files of background jobs on disk: an upload waiting to be imported, a report, an export.

Each job has its own directory, named by the job's uuid, under the store's root (the data
directory's ``files/`` in ``outdial serve``)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from outdial.domain.errors import FieldError, LimitExceeded

CHUNK = 1 << 20


class FileStore:
    def __init__(self, root: Path | None = None):
        self._root = root

    @property
    def root(self) -> Path:
        if self._root is None:  # services built without a data dir (tests, simulations)
            self._root = Path(tempfile.mkdtemp(prefix="outdial-files-"))
        return self._root

    def path(self, job_uuid: str, name: str) -> Path:
        directory = self.root / job_uuid
        directory.mkdir(parents=True, exist_ok=True)
        return directory / name

    def save(self, job_uuid: str, name: str, stream: BinaryIO, limit: int) -> int:
        """Copy ``stream`` to the job's file ``name``; refuse (and keep nothing) past ``limit``
        bytes. Returns the size."""
        target = self.path(job_uuid, name)
        size = 0
        with target.open("wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    out.close()
                    self.remove(job_uuid)
                    raise LimitExceeded(
                        f"the file is over {limit:,} bytes",
                        [FieldError("file", f"at most {limit // 2**20} MiB", "too_long")],
                    )
                out.write(chunk)
        return size

    def remove(self, job_uuid: str) -> None:
        shutil.rmtree(self.root / job_uuid, ignore_errors=True)
