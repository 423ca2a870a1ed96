"""A contact file's rows prepared for import, a batch at a time: the plainly valid rows read
straight into contacts with their numbers in E.164; the others left for the validator.

Pure rules, no I/O: the same preparation runs in the importing process for a small file and in
a child process, beside the writer, for a large one (services/imports.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from outdial.domain.columns import ColumnMap
from outdial.domain.contact_rows import QuickContact
from outdial.domain.phones import fast_e164

DEFAULT_GROUP = "default"


@dataclass(frozen=True)
class ReadyRow:
    row: int  # as the spreadsheet numbers it
    cells: list[str]
    contact: QuickContact
    numbers: list[str]  # the contact's phones in E.164, in order


@dataclass
class PreparedBatch:
    rows_read: int
    empty: int
    ready: list[ReadyRow] = field(default_factory=list)
    other: list[tuple[int, list[str]]] = field(default_factory=list)  # for the validator
    bytes_read: int = 0  # the file's position after the batch, where the reader knows it


def prepare(
    batch: Sequence[tuple[int, list[str]]], columns: ColumnMap, region: str, groups: frozenset[str]
) -> PreparedBatch:
    """Sort a batch of numbered rows: blank ones counted, plainly valid ones ready (their
    numbers normalised by the fast path, distinct, in the campaign's default group), the rest
    for the validator, which words their errors."""
    prepared = PreparedBatch(len(batch), 0)
    default_group = DEFAULT_GROUP in groups
    for row, cells in batch:
        if not any(cells):
            prepared.empty += 1
            continue
        contact = columns.quick(cells) if default_group else None
        numbers = _numbers(contact, region) if contact is not None else None
        if contact is None or numbers is None:
            prepared.other.append((row, cells))
        else:
            prepared.ready.append(ReadyRow(row, cells, contact, numbers))
    return prepared


def _numbers(contact: QuickContact, region: str) -> list[str] | None:
    numbers = []
    for phone in contact.phones:
        number = fast_e164(phone.number.strip(), region)
        if number is None:
            return None
        numbers.append(number)
    return numbers if len(set(numbers)) == len(numbers) else None
