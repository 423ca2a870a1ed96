"""Preparing a batch of file rows: blank rows counted, plainly valid ones ready with their
numbers in E.164, the others left to the validator."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.domain.columns import ColumnMap, MappingError, detect
from outdial.domain.file_rows import prepare, row_reader
from outdial.domain.phones import fast_e164, fast_e164_for

HEADER = ["姓名", "手机号", "备用电话", "备注"]


def test_rows_are_sorted_into_ready_blank_and_for_the_validator() -> None:
    rows = [
        HEADER,
        ["张三", "13800000001", "13900000001", "老客户"],
        ["", "", "", ""],
        ["李四", "电话待补", "", ""],  # not a number: the validator words it
        ["王五", "13800000003", "13800000003", ""],  # the same number twice
        ["x" * 21, "13800000004", "", ""],  # a name too long
        ["赵六", "010 6552 9988", "", ""],  # a landline with the national prefix: phonenumbers
    ]
    columns = detect(rows[:3])
    batch = list(enumerate(rows[1:], start=2))
    prepared = prepare(batch, columns, "CN", frozenset({"default"}))
    assert (prepared.rows_read, prepared.empty) == (6, 1)
    ready = prepared.ready
    assert ready.rows == [2] and ready.numbers(0) == ["+8613800000001", "+8613900000001"]
    assert ready.contacts[0] == ("张三", "老客户", None, "", {}, "+8613800000001")
    assert ready.phones[0] == (
        (0, "+8613800000001", "self", 1),
        (1, "+8613900000001", "", 2),
    )
    assert [row for row, _ in prepared.other] == [4, 5, 6, 7]


def test_a_campaign_without_the_default_group_sends_every_row_to_the_validator() -> None:
    rows = [HEADER, ["张三", "13800000001", "", ""]]
    prepared = prepare([(2, rows[1])], detect(rows), "CN", frozenset({"vip"}))
    assert len(prepared.ready) == 0 and [row for row, _ in prepared.other] == [2]


# --- the row reader compiled per file gives what ColumnMap.quick and fast_e164 give ---------


def reference(columns: ColumnMap, cells: list[str], region: str) -> Any:
    """The row as quick() and fast_e164 read it, one general step at a time."""
    contact = columns.quick(cells)
    if contact is None:
        return None
    numbers = [fast_e164(p.number.strip(), region) for p in contact.phones]
    if None in numbers or len(set(numbers)) != len(numbers):
        return None
    used = [c.index for c in columns.phones if c.index < len(cells) and cells[c.index]]
    phones = tuple(
        (k, n, p.relation or ("self" if k == 0 else ""), used[k])
        for k, (n, p) in enumerate(zip(numbers, contact.phones, strict=True))
    )
    c = contact
    return (c.name, c.description, c.external_id, c.pass_through, c.attributes, numbers[0]), phones


headers = st.lists(
    st.sampled_from(
        ["姓名", "手机号", "备用电话", "电话(配偶)", "电话2", "关系", "客户编号", "备注", "透传",
         "时区", "城市", "x" * 70, "标签", "phone", "name"]
    ),
    min_size=1,
    max_size=8,
)  # fmt: skip
phone_like = st.builds(
    lambda plus, body: ("+" if plus else "") + body,
    st.booleans(),
    st.text(alphabet="0123456789 -", min_size=0, max_size=16),
)
numbers = st.sampled_from(
    ["13800000001", "13900000002", "+8613800000001", "139-0000-0003", "2025550123",
     "+44 20 7946 0000", "010 6552 9988", "8613800000001", "12025550123", "020 7946 0000"]
)  # fmt: skip
cells = st.lists(
    st.one_of(
        st.just(""),
        numbers,
        numbers,
        st.sampled_from(["本人", "配偶", "self", " 本人", "Asia/Shanghai", "张三", "C001"]),
        phone_like,
        st.text(max_size=6),
        st.text(max_size=70),
    ),
    max_size=9,
)  # fmt: skip


PHONE_HEADERS = {"手机号", "备用电话", "电话(配偶)", "电话2", "phone"}


@st.composite
def plausible(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A header and a row that fits it (numbers under phone headers), so most rows are
    plainly valid and the edges are near: limits, blanks, relations, repeated numbers."""
    header = draw(headers)
    row = []
    for name in header:
        if name in PHONE_HEADERS:
            row.append(draw(st.one_of(numbers, numbers, phone_like, st.just(""))))
        elif name == "关系":
            row.append(draw(st.sampled_from(["", "配偶", "本人", "self", " x", "y" * 21])))
        else:
            row.append(draw(st.one_of(st.just(""), st.text(max_size=4), st.text(max_size=45))))
    return header, row + draw(st.lists(st.text(max_size=3), max_size=2))


@settings(max_examples=2000, deadline=None)
@given(st.one_of(st.tuples(headers, cells), plausible()), st.sampled_from(["CN", "US", "GB"]))
def test_the_row_reader_reads_as_quick_and_fast_e164_do(
    header_and_row: tuple[list[str], list[str]], region: str
) -> None:
    header, row = header_and_row
    try:
        columns = detect([header, row])
    except MappingError:
        return
    assert row_reader(columns, region)(row) == reference(columns, row, region), (header, row)


@settings(max_examples=2000, deadline=None)
@given(phone_like, st.sampled_from(["CN", "US", "GB", "HK", "DE", "IN", "JP", "RU", "BR", "FR"]))
def test_fast_e164_with_its_region_bound_answers_as_fast_e164(text: str, region: str) -> None:
    assert fast_e164_for(region)(text) == fast_e164(text, region)


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(), st.sampled_from(["\\N", "a\tb", "\\", "x\r\ny", "普通"])),
        min_size=1,
        max_size=7,
    )
)
def test_copy_lines_joined_first_are_copy_text(values: list[str | None]) -> None:
    from outdial.store.bulk import _copy_line, copy_text

    assert _copy_line(*values) == copy_text(values)
