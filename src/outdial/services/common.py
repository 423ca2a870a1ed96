"""What every service shares: the tenant in whose name it acts, pages, ids."""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass
from typing import Any

from outdial.domain import limits
from outdial.domain.errors import NotFound, ValidationFailed


@dataclass(frozen=True)
class Tenant:
    """The caller's tenant, resolved from its credential by the edge."""

    id: int
    uuid: str
    name: str
    default_region: str
    timezone: str
    max_contacts_per_campaign: int

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Tenant:
        return cls(
            id=row["id"],
            uuid=row["uuid"],
            name=row["name"],
            default_region=row["default_region"],
            timezone=row["timezone"],
            max_contacts_per_campaign=row["max_contacts_per_campaign"],
        )


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = limits.PAGE_SIZE_DEFAULT

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValidationFailed.field("page", "page starts at 1")
        if not 1 <= self.page_size <= limits.PAGE_SIZE_MAX:
            raise ValidationFailed.field(
                "page_size", f"page_size must be between 1 and {limits.PAGE_SIZE_MAX}"
            )
        if self.offset > 2**63 - 1:
            raise ValidationFailed.field("page", "page is out of range")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
        }


def new_uuid() -> str:
    return str(uuid_module.uuid4())


def found(row: dict[str, Any] | None, what: str, row_id: int | str) -> dict[str, Any]:
    if row is None:
        raise NotFound(f"{what} {row_id} not found")
    return row
