"""Per-row rules of a contact batch: what makes a row acceptable beyond its own fields."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from outdial.domain import limits
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


class QuickPhone(NamedTuple):
    number: str
    relation: str
    phone_group: str


class QuickContact(NamedTuple):
    """A contact that certainly meets the append API's rules, read without the validator."""

    name: str
    description: str
    external_id: str | None
    pass_through: str
    attributes: dict[str, str]
    timezone: str | None
    phones: tuple[QuickPhone, ...]


_CONTACT_KEYS = frozenset(
    {"name", "description", "external_id", "pass_through", "attributes", "phones"}
)
_PHONE_KEYS = frozenset({"number", "relation", "phone_group"})
SELF_RELATIONS = ("", "self", "本人")
ATTRIBUTES_MAX, ATTRIBUTE_KEY_MAX = 50, 64
PHONE_NUMBER_MAX, PHONE_GROUP_MAX = 32, 64


def quick_contact(raw: Mapping[str, Any]) -> QuickContact | None:
    """``raw`` as a contact when it is plainly valid — only text values within their limits,
    no time zone, one to three phones, the first the person's own — else None, and the
    validator (services/models.ContactIn) judges it and words its errors. A bulk import's
    rows are nearly all plainly valid; tests hold this to the validator's answer."""
    if not _CONTACT_KEYS.issuperset(raw):
        return None
    attributes = raw.get("attributes", _NO_ATTRIBUTES)
    if attributes is not _NO_ATTRIBUTES and not _plain_attributes(attributes):
        return None
    phones = _quick_phones(raw.get("phones"))
    if phones is None:
        return None
    return plain_contact(
        raw.get("name", ""),
        raw.get("description", ""),
        raw.get("external_id"),
        raw.get("pass_through", ""),
        attributes,
        phones,
    )


def plain_contact(
    name: Any,
    description: Any,
    external_id: Any,
    pass_through: Any,
    attributes: dict[str, str],
    phones: tuple[QuickPhone, ...],
) -> QuickContact | None:
    """The contact of these values if its fields are plainly valid (the phones and the
    attributes already are), else None."""
    if not (
        type(name) is str
        and len(name) <= limits.CONTACT_NAME_MAX
        and type(description) is str
        and len(description) <= limits.CONTACT_DESC_MAX
        and type(pass_through) is str
        and len(pass_through) <= limits.CONTACT_PASS_THROUGH_MAX
        and (
            external_id is None
            or (type(external_id) is str and len(external_id) <= limits.CONTACT_EXTERNAL_ID_MAX)
        )
    ):
        return None
    return QuickContact(
        name,
        description,
        external_id,
        pass_through,
        {} if attributes is _NO_ATTRIBUTES else attributes,
        None,
        phones,
    )


def plain_phones(numbers: list[tuple[str, str]]) -> tuple[QuickPhone, ...] | None:
    """(number, relation) pairs of text as the contact's phones (default group) if plainly
    valid, else None."""
    if not 1 <= len(numbers) <= limits.PHONES_PER_CONTACT or numbers[0][1] not in SELF_RELATIONS:
        return None
    out = []
    for number, relation in numbers:
        if not (
            1 <= len(number) <= PHONE_NUMBER_MAX
            and len(relation) <= limits.RELATION_MAX
            and relation == relation.strip()  # the validator strips; the edge cases are its
        ):
            return None
        out.append(QuickPhone(number, relation, "default"))
    return tuple(out)


_NO_ATTRIBUTES: dict[str, str] = {}  # "none given": the one empty dict never handed out


def _plain_attributes(attributes: Any) -> bool:
    if type(attributes) is not dict or len(attributes) > ATTRIBUTES_MAX:
        return False
    return all(
        type(k) is str and len(k) <= ATTRIBUTE_KEY_MAX and type(v) is str
        for k, v in attributes.items()
    )


def _quick_phones(phones: Any) -> tuple[QuickPhone, ...] | None:
    if type(phones) is not list or not 1 <= len(phones) <= limits.PHONES_PER_CONTACT:
        return None
    pairs = []
    for phone in phones:
        if type(phone) is not dict or not _PHONE_KEYS.issuperset(phone):
            return None
        number = phone.get("number")
        relation = phone.get("relation", "")
        if type(number) is not str or type(relation) is not str:
            return None
        if phone.get("phone_group", "default") != "default":
            return None  # another group: the validator and the campaign's groups judge it
        pairs.append((number, relation))
    return plain_phones(pairs)
