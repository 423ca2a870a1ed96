"""A contact file's rows prepared for import, a batch at a time: the plainly valid rows read
straight into compact tuples with their numbers in E.164; the others left for the validator.

Pure rules, no I/O: the same preparation runs in the importing process for a small file and in
a child process, beside the writer, for a large one (services/imports.py). The ready rows are
plain tuples of text, cheap to hand between processes and ready to be written in bulk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from outdial.domain import limits
from outdial.domain.columns import ColumnMap
from outdial.domain.contact_rows import (
    ATTRIBUTES_MAX,
    PHONE_NUMBER_MAX,
    SELF_RELATIONS,
)
from outdial.domain.phones import fast_e164_for

DEFAULT_GROUP = "default"

ReadyContact = tuple[str, str, str | None, str, dict[str, str], str]
"""name, description, external_id, pass_through, attributes, the person's number (E.164)."""
ReadyPhone = tuple[int, str, str, int]
"""position, number (E.164), relation as stored (the person's own: ``self`` when blank), and
the file's column it came from (0-based)."""


@dataclass
class ReadyRows:
    """A batch's plainly valid rows, column-wise: the k-th row of each list is one contact."""

    rows: list[int] = field(default_factory=list)  # as the spreadsheet numbers them
    contacts: list[Any] = field(default_factory=list)  # ReadyContact, or as encoded to store
    phones: list[tuple[ReadyPhone, ...]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def numbers(self, k: int) -> list[str]:
        """The k-th contact's numbers in E.164, in order."""
        return [phone[1] for phone in self.phones[k]]

    def phone_cells(self, k: int) -> list[str]:
        """The k-th row's cells as far as its phones tell them (the rest blank): all a report
        of its duplicate or DNC numbers needs to name their columns."""
        phones = self.phones[k]
        cells = [""] * (max(phone[3] for phone in phones) + 1)
        for phone in phones:
            cells[phone[3]] = phone[1]
        return cells


@dataclass
class PreparedBatch:
    rows_read: int
    empty: int
    ready: ReadyRows = field(default_factory=ReadyRows)
    other: list[tuple[int, list[str]]] = field(default_factory=list)  # for the validator
    bytes_read: int = 0  # the file's position after the batch, where the reader knows it


RowReader = Callable[[list[str]], tuple[ReadyContact, tuple[ReadyPhone, ...]] | None]


def row_reader(columns: ColumnMap, region: str) -> RowReader:
    """A function of the file's rows, compiled once for the file from its column map: a row
    read into its contact and phones when ``columns.quick`` would take it, every number takes
    the fast E.164 path and the numbers differ; else None. It gives exactly what
    ColumnMap.quick and phones.fast_e164 give (a property test holds it to them), with the
    column positions and the limits bound up front instead of looked up per cell."""
    plan, e164 = columns.plan, fast_e164_for(region)
    width = plan.width
    fields = itemgetter(plan.name, plan.description, plan.external_id, plan.pass_through)
    timezone = plan.timezone
    phones_at = plan.phones
    attributes_at = plan.attributes
    no_attributes = plan.long_attribute  # any value in a custom column sends the row on
    single = len(phones_at) == 1 and not phones_at[0][2] and phones_at[0][1] in SELF_RELATIONS
    phone_index, phone_relation = phones_at[0][0], phones_at[0][1] or "self"
    name_max, desc_max = limits.CONTACT_NAME_MAX, limits.CONTACT_DESC_MAX
    pass_max, id_max = limits.CONTACT_PASS_THROUGH_MAX, limits.CONTACT_EXTERNAL_ID_MAX

    def read(cells: list[str]) -> tuple[ReadyContact, tuple[ReadyPhone, ...]] | None:
        if len(cells) <= width or cells[width]:
            cells = [*cells[:width], *[""] * (width + 1 - min(len(cells), width))]
        name, description, external_id, pass_through = fields(cells)
        if (
            cells[timezone]
            or len(name) > name_max
            or len(description) > desc_max
            or len(pass_through) > pass_max
            or len(external_id) > id_max
        ):
            return None
        if single:
            number = cells[phone_index]
            if not number or len(number) > PHONE_NUMBER_MAX:
                return None
            first = e164(number.strip())
            if first is None:
                return None
            phones: tuple[ReadyPhone, ...] = ((0, first, phone_relation, phone_index),)
        else:
            got = _phones(cells, phones_at, e164)
            if got is None:
                return None
            phones, first = got, got[0][1]
        attributes: dict[str, str] = {}
        for index, header in attributes_at:
            if value := cells[index]:
                attributes[header] = value
        if attributes and (no_attributes or len(attributes) > ATTRIBUTES_MAX):
            return None
        return (name, description, external_id or None, pass_through, attributes, first), phones

    return read


def _phones(
    cells: list[str],
    phones_at: tuple[tuple[int, str, tuple[int, ...]], ...],
    e164: Callable[[str], str | None],
) -> tuple[ReadyPhone, ...] | None:
    """A row's phones as ColumnMap.quick reads them (relations from the header or the 关系
    columns after it), in E.164 and distinct; None if any is not plainly valid."""
    pairs: list[tuple[str, str, int]] = []
    for index, relation, relation_columns in phones_at:
        number = cells[index]
        if relation_columns:
            given = [cells[r] for r in relation_columns if cells[r]]
            if given:
                if not number:
                    return None
                relation = given[-1]
        if number:
            pairs.append((number, relation, index))
    if not 1 <= len(pairs) <= limits.PHONES_PER_CONTACT or pairs[0][1] not in SELF_RELATIONS:
        return None
    out = []
    for position, (number, relation, index) in enumerate(pairs):
        if not (
            len(number) <= PHONE_NUMBER_MAX
            and len(relation) <= limits.RELATION_MAX
            and relation == relation.strip()
        ):
            return None
        e = e164(number.strip())
        if e is None:
            return None
        out.append((position, e, relation or ("self" if not position else ""), index))
    if len({p[1] for p in out}) < len(out):
        return None
    return tuple(out)


def prepare(
    batch: Sequence[tuple[int, list[str]]],
    columns: ColumnMap,
    region: str,
    groups: frozenset[str],
    reader: RowReader | None = None,
) -> PreparedBatch:
    """Sort a batch of numbered rows: blank ones counted, plainly valid ones ready (their
    numbers normalised by the fast path, distinct, in the campaign's default group), the rest
    for the validator, which words their errors. ``reader``: row_reader(columns, region),
    made once for the file."""
    prepared = PreparedBatch(len(batch), 0)
    read = reader or row_reader(columns, region)
    default_group = DEFAULT_GROUP in groups
    out, other = prepared.ready, prepared.other
    rows, contacts, phones = out.rows, out.contacts, out.phones
    for row, cells in batch:
        got = read(cells) if default_group else None
        if got is not None:
            rows.append(row)
            contacts.append(got[0])
            phones.append(got[1])
        elif any(cells):
            other.append((row, cells))
        else:
            prepared.empty += 1
    return prepared
