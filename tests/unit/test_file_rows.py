"""Preparing a batch of file rows: blank rows counted, plainly valid ones ready with their
numbers in E.164, the others left to the validator."""

from __future__ import annotations

from outdial.domain.columns import detect
from outdial.domain.file_rows import prepare

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
    assert ready.phones[0] == ((0, "+8613800000001", "self"), (1, "+8613900000001", ""))
    assert [row for row, _ in prepared.other] == [4, 5, 6, 7]


def test_a_campaign_without_the_default_group_sends_every_row_to_the_validator() -> None:
    rows = [HEADER, ["张三", "13800000001", "", ""]]
    prepared = prepare([(2, rows[1])], detect(rows), "CN", frozenset({"vip"}))
    assert len(prepared.ready) == 0 and [row for row, _ in prepared.other] == [2]
