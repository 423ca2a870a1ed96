"""Which column of a contact file holds what: header detection in Chinese and English, several
phone columns with their relations, and explicit mappings that override the guess.

Pure rules: a header row in, a :class:`ColumnMap` out; a data row through the map gives the
contact as the native append API takes it (``name``, ``phones`` …, custom fields in
``attributes``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from outdial.domain.contact_rows import (
    ATTRIBUTE_KEY_MAX,
    ATTRIBUTES_MAX,
    QuickContact,
    plain_contact,
    plain_phones,
)

NAME, PHONE, RELATION, EXTERNAL_ID, DESCRIPTION, PASS_THROUGH, TIMEZONE, ATTRIBUTE, SKIP = (
    "name",
    "phone",
    "relation",
    "external_id",
    "description",
    "pass_through",
    "timezone",
    "attribute",
    "skip",
)
ROLES = (NAME, PHONE, RELATION, EXTERNAL_ID, DESCRIPTION, PASS_THROUGH, TIMEZONE, ATTRIBUTE, SKIP)
HEADER_SEARCH_ROWS = 10  # the header is among the first rows that are not empty

ALIASES: dict[str, tuple[str, ...]] = {
    NAME: ("姓名", "名字", "客户姓名", "客户名称", "客户名", "客户", "联系人", "name", "fullname",
           "customername", "contactname", "customer", "contact"),
    PHONE: ("手机号", "手机", "手机号码", "电话", "电话号码", "号码", "联系电话", "联系方式",
            "客户电话", "客户手机", "客户号码", "被叫号码", "phone", "mobile", "telephone", "tel",
            "cell", "cellphone", "number", "phonenumber", "mobilenumber", "msisdn"),
    RELATION: ("关系", "联系人关系", "与本人关系", "relation", "relationship"),
    EXTERNAL_ID: ("客户编号", "编号", "客户id", "客户代码", "外部编号", "外部id", "id",
                  "externalid", "customerid", "clientid", "ref", "reference", "referenceid"),
    DESCRIPTION: ("备注", "说明", "描述", "note", "notes", "remark", "remarks", "description",
                  "comment", "comments"),
    PASS_THROUGH: ("透传", "透传数据", "透传参数", "passthrough", "data", "userdata"),
    TIMEZONE: ("时区", "timezone", "tz"),
}  # fmt: skip
_LOOKUP = {alias: role for role, aliases in ALIASES.items() for alias in aliases}
# "电话2", "phone 2", "备用电话", "mobile_3": further phone columns; "(配偶)" / "(spouse)" after a
# phone header names its relation
_SUFFIX = re.compile(r"^(?P<stem>.*?)(?P<n>\d+)?$")
_BRACKET = re.compile(r"^(?P<head>[^(\[]*)[(\[](?P<inner>[^)\]]*)[)\]]\s*$")
_SPARE = ("备用", "其他", "另一", "第二", "alt", "alternate", "other", "secondary", "second")


def normalise(header: str) -> str:
    """Headers compare without case, width (全角), spaces, ``_``, ``-``, ``.``, ``:`` or ``：``."""
    text = unicodedata.normalize("NFKC", header).lower()
    return re.sub(r"[\s_\-.:：]+", "", text)


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    role: str
    relation: str = ""  # phone columns: a relation written in the header, e.g. 电话(配偶)


@dataclass(frozen=True)
class ColumnMap:
    columns: tuple[Column, ...]
    header_row: int | None  # 0-based index of the header row in the file; None: no header

    @property
    def phones(self) -> list[Column]:
        return [c for c in self.columns if c.role == PHONE]

    def describe(self) -> list[dict[str, Any]]:
        """The mapping as the API and the report show it."""
        return [
            {"column": c.index + 1, "header": c.header, "role": c.role}
            | ({"relation": c.relation} if c.relation else {})
            for c in self.columns
        ]

    def contact(self, cells: Sequence[str]) -> dict[str, Any]:
        """The contact a data row holds, as the native append API takes it. Empty phone cells
        are left out, so a second phone column may be blank."""
        contact: dict[str, Any] = {}
        attributes: dict[str, str] = {}
        phones: list[dict[str, str]] = []
        for column in self.columns:
            value = cells[column.index] if column.index < len(cells) else ""
            if column.role == PHONE:
                if value:
                    phones.append({"number": value, "relation": column.relation})
            elif column.role == RELATION:
                if value and phones:
                    phones[-1]["relation"] = value
            elif column.role == ATTRIBUTE:
                if value:
                    attributes[column.header] = value
            elif column.role != SKIP and value:
                contact[column.role] = value
        contact["phones"] = phones
        if attributes:
            contact["attributes"] = attributes
        return contact

    def quick(self, cells: Sequence[str]) -> QuickContact | None:
        """The contact ``contact(cells)`` gives, straight from the cells, when it is plainly
        valid (contact_rows.plain_contact); None when the validator must judge it. The fast
        path of bulk imports; tests hold it to contact() and the validator."""
        plan = self.plan
        width = plan.width
        if len(cells) <= width or cells[width]:  # mapped cells, then a blank for absent fields
            cells = [*cells[:width], *[""] * (width + 1 - min(len(cells), width))]
        pairs = []
        for index, relation, relation_columns in plan.phones:
            number = cells[index]
            if relation_columns:
                given = [cells[r] for r in relation_columns if cells[r]]
                if given:
                    if not number:
                        return None  # contact() would give it to an earlier phone
                    relation = given[-1]
            if number:
                pairs.append((number, relation))
        phones = plain_phones(pairs)
        if phones is None or cells[plan.timezone]:
            return None
        attributes: dict[str, str] = {}
        for index, header in plan.attributes:
            if value := cells[index]:
                attributes[header] = value
        if attributes and (len(attributes) > ATTRIBUTES_MAX or plan.long_attribute):
            return None
        return plain_contact(
            cells[plan.name],
            cells[plan.description],
            cells[plan.external_id] or None,
            cells[plan.pass_through],
            attributes,
            phones,
        )

    @cached_property
    def plan(self) -> QuickPlan:
        """Where quick() finds each field of a row."""
        single = {c.role: c.index for c in self.columns if c.role in _SINGLE}
        phones: list[tuple[int, str, tuple[int, ...]]] = []
        for column in self.columns:
            if column.role == PHONE:
                phones.append((column.index, column.relation, ()))
            elif column.role == RELATION and phones:
                index, relation, after = phones[-1]
                phones[-1] = (index, relation, (*after, column.index))
        attributes = tuple((c.index, c.header) for c in self.columns if c.role == ATTRIBUTE)
        width = max((c.index for c in self.columns), default=-1) + 1
        return QuickPlan(
            width,
            single.get(NAME, width),  # an absent field reads the blank cell past the last
            single.get(DESCRIPTION, width),
            single.get(EXTERNAL_ID, width),
            single.get(PASS_THROUGH, width),
            single.get(TIMEZONE, width),
            tuple(phones),
            attributes,
            any(len(header) > ATTRIBUTE_KEY_MAX for _, header in attributes),
        )


_SINGLE = (NAME, DESCRIPTION, EXTERNAL_ID, PASS_THROUGH, TIMEZONE)


class QuickPlan(NamedTuple):
    """Where ColumnMap.quick finds each field of a row."""

    width: int  # columns mapped; index ``width`` is a blank cell
    name: int
    description: int
    external_id: int
    pass_through: int
    timezone: int
    phones: tuple[tuple[int, str, tuple[int, ...]], ...]  # column, header relation, 关系 columns
    attributes: tuple[tuple[int, str], ...]
    long_attribute: bool  # a custom column's header is too long to be an attribute name


class MappingError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class _Guess:
    columns: list[Column] = field(default_factory=list)
    taken: set[str] = field(default_factory=set)


def role_of(header: str) -> tuple[str, str]:
    """(role, relation) a header names by itself; ``attribute`` when it names none."""
    text = normalise(header)
    if not text:
        return SKIP, ""
    bracket = _BRACKET.match(unicodedata.normalize("NFKC", header).strip())
    if bracket and _base_role(normalise(bracket.group("head"))) == PHONE:
        return PHONE, bracket.group("inner").strip()
    return _base_role(text) or ATTRIBUTE, ""


def _base_role(text: str) -> str | None:
    """The role of a normalised header: an alias, an alias numbered (电话2, phone_3: further
    phones and their relations), or a spare phone (备用电话, alt phone)."""
    if text in _LOOKUP:
        return _LOOKUP[text]
    stem = _SUFFIX.match(text)
    if stem and stem.group("n") and _LOOKUP.get(stem.group("stem")) in (PHONE, RELATION):
        return _LOOKUP[stem.group("stem")]
    if any(text.startswith(s) and _LOOKUP.get(text[len(s) :]) == PHONE for s in _SPARE):
        return PHONE
    return None


def detect(rows: Sequence[Sequence[str]], overrides: Mapping[str, str] | None = None) -> ColumnMap:
    """The column map of a file from its first rows (at least the header and a data row).

    The header is the first of the first non-empty rows with a cell naming a phone column;
    without one the file has no header, and the first column whose first value looks like a
    phone number is the phone. ``overrides`` maps a header (or a 1-based column number) to a
    role and wins over the guess. Raises :class:`MappingError` when no phone column is found or
    an override names an unknown column or role."""
    overrides = dict(overrides or {})
    for key, role in overrides.items():
        if role not in ROLES:
            raise MappingError(
                f"mapping.{key}", f"unknown role {role!r}; one of {', '.join(ROLES)}"
            )
    candidates = [(i, row) for i, row in enumerate(rows) if any(cell for cell in row)]
    for i, row in candidates[:HEADER_SEARCH_ROWS]:
        by_header = [role_of(cell) for cell in row]
        if any(role == PHONE for role, _ in by_header) or _mentions(row, overrides, PHONE):
            return _finish(i, row, by_header, overrides)
    if not candidates:
        raise MappingError("file", "the file has no rows")
    return _without_known_headers(candidates[:HEADER_SEARCH_ROWS], overrides)


def _without_known_headers(
    candidates: Sequence[tuple[int, Sequence[str]]], overrides: Mapping[str, str]
) -> ColumnMap:
    """No header names a phone: the phone column is the one an override numbers, else the
    first whose first value looks like a phone number. If the first row's value there does not
    look like one and the next row's does, the first row is a header of unknown names."""
    first = candidates[0][1]
    numbered = [int(key) - 1 for key, role in overrides.items() if key.isdigit() and role == PHONE]
    phone = numbered[0] if numbered else None
    if phone is None:
        phone = next((k for k, cell in enumerate(first) if looks_like_phone(cell)), None)
    width = max(len(row) for _, row in candidates)
    header_row = None
    if phone is not None and phone < width and len(candidates) > 1:
        second = candidates[1][1]
        cell = first[phone] if phone < len(first) else ""
        below = second[phone] if phone < len(second) else ""
        if not looks_like_phone(cell) and looks_like_phone(below):
            header_row = candidates[0][0]
    if header_row is None:
        headers = [f"column {k + 1}" for k in range(width)]
    else:
        headers = [first[k] if k < len(first) else "" for k in range(width)]
    by_header = [role_of(h) if header_row is not None else (ATTRIBUTE, "") for h in headers]
    if phone is not None and phone < width:
        by_header[phone] = (PHONE, "")
    return _finish(header_row, headers, by_header, overrides)


def _mentions(row: Sequence[str], overrides: Mapping[str, str], role: str) -> bool:
    return any(overrides.get(cell) == role for cell in row if cell)


def _finish(
    header_row: int | None,
    headers: Sequence[str],
    by_header: Sequence[tuple[str, str]],
    overrides: Mapping[str, str],
) -> ColumnMap:
    known = {str(k + 1) for k in range(len(headers))} | {h for h in headers if h}
    for key in overrides:
        if key not in known:
            raise MappingError(f"mapping.{key}", f"no column {key!r} in the file")
    columns: list[Column] = []
    seen: set[str] = set()
    for k, (header, (role, relation)) in enumerate(zip(headers, by_header, strict=True)):
        role = overrides.get(header, overrides.get(str(k + 1), role))
        if role in (NAME, EXTERNAL_ID, DESCRIPTION, PASS_THROUGH, TIMEZONE):
            if role in seen:
                role = ATTRIBUTE  # a second 姓名 column is kept, as a custom field
            seen.add(role)
        columns.append(Column(k, header or f"column {k + 1}", role, relation))
    if not any(c.role == PHONE for c in columns):
        raise MappingError("mapping", "no phone column: name one with mapping {header: 'phone'}")
    return ColumnMap(tuple(columns), header_row)


_PHONE_LIKE = re.compile(r"^\+?[\d\s\-()]{5,20}$")


def looks_like_phone(cell: str) -> bool:
    return bool(_PHONE_LIKE.match(cell)) and sum(ch.isdigit() for ch in cell) >= 5
