"""Per-row rules of a contact batch: what makes a row acceptable beyond its own fields."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from outdial.domain.errors import FieldError


@dataclass
class RowVerdict:
    index: int
    numbers: list[str]
    errors: list[FieldError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def primary(self) -> str:
        return self.numbers[0]


def mark_duplicates(rows: Iterable[RowVerdict], existing: set[str]) -> None:
    """Reject a row whose person's number is already in the campaign or earlier in the batch."""
    seen: set[str] = set()
    for row in rows:
        if not row.ok:
            continue
        where = f"contacts[{row.index}].phones[0].number"
        if row.primary in existing:
            row.errors.append(
                FieldError(where, f"{row.primary} is already in the campaign", "duplicate")
            )
        elif row.primary in seen:
            row.errors.append(
                FieldError(where, f"{row.primary} appears twice in this batch", "duplicate")
            )
        seen.add(row.primary)


def mark_dnc(rows: Iterable[RowVerdict], blocked: set[str]) -> None:
    for row in rows:
        for k, number in enumerate(row.numbers):
            if row.ok and number in blocked:
                row.errors.append(
                    FieldError(
                        f"contacts[{row.index}].phones[{k}].number",
                        f"{number} is on the do-not-call list",
                        "dnc",
                    )
                )
