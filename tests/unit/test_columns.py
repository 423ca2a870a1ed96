"""Which column holds what in a contact file (outdial.domain.columns)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.domain.columns import (
    ATTRIBUTE,
    DESCRIPTION,
    EXTERNAL_ID,
    NAME,
    PHONE,
    MappingError,
    detect,
    looks_like_phone,
    normalise,
    role_of,
)


@pytest.mark.parametrize(
    ("header", "role", "relation"),
    [
        ("姓名", NAME, ""),
        ("客户姓名", NAME, ""),
        ("Name", NAME, ""),
        ("手机号", PHONE, ""),
        ("手机号码", PHONE, ""),
        ("电话", PHONE, ""),
        ("号码", PHONE, ""),
        ("Mobile", PHONE, ""),
        ("Phone Number", PHONE, ""),
        ("phone_2", PHONE, ""),
        ("电话2", PHONE, ""),
        ("备用电话", PHONE, ""),
        ("Alt Phone", PHONE, ""),
        ("电话(配偶)", PHONE, "配偶"),
        ("电话（父亲）", PHONE, "父亲"),  # full-width brackets
        ("phone [spouse]", PHONE, "spouse"),
        ("客户编号", EXTERNAL_ID, ""),
        ("Customer ID", EXTERNAL_ID, ""),
        ("备注", DESCRIPTION, ""),
        ("Remarks", DESCRIPTION, ""),
        ("关系2", "relation", ""),
        ("时区", "timezone", ""),
        ("透传数据", "pass_through", ""),
        ("贷款金额", ATTRIBUTE, ""),
        ("", "skip", ""),
    ],
)
def test_headers_name_their_roles(header: str, role: str, relation: str) -> None:
    assert role_of(header) == (role, relation)


def test_normalise_ignores_width_case_and_separators() -> None:
    assert normalise("ＰＨＯＮＥ_Number ：") == "phonenumber"


def test_a_chinese_roster_with_two_phones_and_a_relation() -> None:
    rows = [
        ["客户名单 2026-11"],  # a title line above the header
        [],
        ["客户编号", "姓名", "手机号", "备用电话", "关系", "备注", "贷款金额"],
        ["C001", "张三", "13800138000", "13900139000", "配偶", "老客户", "5000"],
    ]
    columns = detect(rows)
    assert columns.header_row == 2
    assert [c.role for c in columns.columns] == [
        EXTERNAL_ID, NAME, PHONE, PHONE, "relation", DESCRIPTION, ATTRIBUTE,
    ]  # fmt: skip
    assert columns.contact(rows[3]) == {
        "external_id": "C001",
        "name": "张三",
        "phones": [
            {"number": "13800138000", "relation": ""},
            {"number": "13900139000", "relation": "配偶"},
        ],
        "description": "老客户",
        "attributes": {"贷款金额": "5000"},
    }


def test_blank_cells_leave_fields_and_second_phones_out() -> None:
    columns = detect([["name", "mobile", "phone2 (spouse)", "city"], ["", "13800138000", "", ""]])
    assert columns.contact(["", "13800138000", "", ""]) == {
        "phones": [{"number": "13800138000", "relation": ""}]
    }
    row = ["Ada", "13800138000", "13900139000", "Leeds"]
    assert columns.contact(row)["phones"][1] == {"number": "13900139000", "relation": "spouse"}
    assert columns.contact(["Ada"]) == {"name": "Ada", "phones": []}  # a short row


def test_a_file_without_a_header_takes_the_first_phone_like_column() -> None:
    rows = [["张三", "13800138000", "x"], ["李四", "13900139000", "y"]]
    columns = detect(rows)
    assert columns.header_row is None
    assert [c.role for c in columns.columns] == [ATTRIBUTE, PHONE, ATTRIBUTE]
    assert columns.contact(rows[0])["attributes"] == {"column 1": "张三", "column 3": "x"}


def test_overrides_win_by_header_or_column_number() -> None:
    rows = [["客户", "联系号", "备注"], ["张三", "13800138000", "vip"]]
    columns = detect(rows, {"联系号": "phone", "3": "attribute"})
    assert [c.role for c in columns.columns] == [NAME, PHONE, ATTRIBUTE]


def test_a_phone_column_given_by_number_under_an_unknown_header() -> None:
    rows = [["客户", "联系号", "城市"], ["张三", "13800138000", "北京"]]
    columns = detect(rows, {"2": "phone"})
    assert columns.header_row == 0
    assert [(c.header, c.role) for c in columns.columns] == [
        ("客户", NAME), ("联系号", PHONE), ("城市", ATTRIBUTE),
    ]  # fmt: skip


def test_a_second_name_column_is_kept_as_a_custom_field() -> None:
    columns = detect([["姓名", "名字", "电话"]])
    assert [c.role for c in columns.columns] == [NAME, ATTRIBUTE, PHONE]


@pytest.mark.parametrize(
    ("rows", "overrides", "field", "message"),
    [
        ([["姓名", "地址"], ["张三", "北京"]], {}, "mapping", "no phone column"),
        ([["姓名", "电话"]], {"手机": "phone"}, "mapping.手机", "no column '手机'"),
        ([["姓名", "电话"]], {"姓名": "nickname"}, "mapping.姓名", "unknown role 'nickname'"),
        ([[], [""]], {}, "file", "no rows"),
        ([["张三", "13800138000"]], {"9": "phone"}, "mapping.9", "no column '9'"),
    ],
)
def test_mapping_errors_name_the_field(
    rows: list[list[str]], overrides: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(MappingError) as e:
        detect(rows, overrides)
    assert e.value.field == field and message in e.value.message


@pytest.mark.parametrize(
    ("cell", "phone"),
    [("13800138000", True), ("+86 138-0013-8000", True), ("(010) 6552 9988", True),
     ("张三", False), ("1234", False), ("2026-11-23 09:00", False)],
)  # fmt: skip
def test_looks_like_phone(cell: str, phone: bool) -> None:
    assert looks_like_phone(cell) is phone


def test_new_uuids_are_time_ordered_version_7() -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    from outdial.services.common import new_uuids

    at = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    made = new_uuids(5000, at) + new_uuids(5000, at + timedelta(milliseconds=1))
    assert made == sorted(made) and len(set(made)) == 10_000  # ordered: index appends
    for text in made[:100] + made[-100:]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
        assert parsed.int >> 80 in (int(at.timestamp() * 1000), int(at.timestamp() * 1000) + 1)


def _uuid7_reference(ms: int, start: int, noise: bytes) -> list[str]:
    """Version 7 UUIDs built as one 128-bit integer each (how new_uuids made them first)."""
    head = (ms << 80) | (0x7 << 76) | (0b10 << 62)
    out = []
    for k in range(len(noise) // 4):
        counter = start + k
        tail = int.from_bytes(noise[4 * k : 4 * k + 4], "big")
        value = head | (counter >> 30) << 64 | (counter & (1 << 30) - 1) << 32 | tail
        h = f"{value:032x}"
        out.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, (1 << 48) - 1),
    st.one_of(st.integers(0, (1 << 40) - 1), st.integers((1 << 30) - 5, (1 << 30) + 5)),
    st.binary(max_size=40).map(lambda b: b[: len(b) // 4 * 4]),
)
def test_uuids_built_as_text_are_the_128_bit_layout(ms: int, start: int, noise: bytes) -> None:
    from outdial.services.common import uuids7

    assert uuids7(ms, start, noise.hex()) == _uuid7_reference(ms, start, noise)
