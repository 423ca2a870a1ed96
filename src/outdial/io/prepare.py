"""The reading half of a large import, in a child process: the file's rows read and prepared
(domain/file_rows.py) a batch at a time and handed to the importing process through a queue,
so reading and checking run on one core while the other writes to the store.

Messages: a PreparedBatch, a string (the file broke: TableError's message), then None.
"""

from __future__ import annotations

import multiprocessing
import queue as queues
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from outdial.domain.columns import ColumnMap
from outdial.domain.file_rows import PreparedBatch, prepare, row_reader
from outdial.io.tables import TableError, open_table
from outdial.store.bulk import encode_ready

QUEUE_BATCHES = 4  # batches read ahead of the writer
POLL_SECONDS = 1.0


@dataclass(frozen=True)
class Plan:
    path: str
    columns: ColumnMap
    first_row: int  # the first data row, as the spreadsheet numbers it
    region: str
    groups: frozenset[str]
    batch_rows: int
    text: bool  # the ready rows as COPY text (PostgreSQL), else as tuples (bulk.encode_ready)


def prepared_in_child(plan: Plan) -> Iterator[PreparedBatch]:
    """The file's prepared batches, read by a child process; the child is stopped when the
    caller stops reading (an error, a cancel)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    out: Queue[Any] = context.Queue(maxsize=QUEUE_BATCHES)
    child = context.Process(target=read_and_prepare, args=(plan, out), daemon=True)
    child.start()
    try:
        while (item := _next(out, child)) is not None:
            if isinstance(item, str):
                raise TableError(item)
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
        out.close()
        out.join_thread()


def _next(out: Queue[Any], child: Any) -> Any:
    while True:
        try:
            return out.get(timeout=POLL_SECONDS)
        except queues.Empty as exc:
            if not child.is_alive() and out.empty():
                raise RuntimeError(f"the reader stopped (exit code {child.exitcode})") from exc


def read_and_prepare(plan: Plan, out: Queue[Any]) -> None:
    """The child: every batch of the file, prepared, into ``out``."""
    try:
        with Path(plan.path).open("rb") as stream:
            rows = enumerate(open_table(stream).rows, start=1)
            data = ((n, cells) for n, cells in rows if n >= plan.first_row)
            reader = row_reader(plan.columns, plan.region)
            while batch := list(islice(data, plan.batch_rows)):
                prepared = prepare(batch, plan.columns, plan.region, plan.groups, reader)
                encode_ready(prepared.ready, plan.text)
                prepared.bytes_read = stream.tell()
                out.put(prepared)
    except TableError as exc:
        out.put(str(exc))
    out.put(None)
