from __future__ import annotations

from datetime import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outdial.domain.contact_rows import RowVerdict, mark_dnc, mark_duplicates
from outdial.domain.errors import ValidationFailed
from outdial.domain.phones import is_caller_number, normalise
from outdial.domain.schedule import check_timezone, parse_clock


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("13800000001", "CN", "+8613800000001"),
        ("138 0000 0001", "CN", "+8613800000001"),
        ("+86 138-0000-0001", "US", "+8613800000001"),
        ("010 6552 9988", "CN", "+861065529988"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+1 555 010 0111", "CN", "+15550100111"),
    ],
)
def test_normalise_to_e164(raw: str, region: str, e164: str) -> None:
    assert normalise(raw, region) == e164


@pytest.mark.parametrize("raw", ["", "   ", "abc", "12", "+86 1", "1" * 30])
def test_impossible_numbers_are_rejected_naming_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        normalise(raw, "CN", "phones[0].number")
    assert err.value.details[0].field == "phones[0].number"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_chinese_mobiles_normalise_idempotently(number: str) -> None:
    e164 = normalise(number, "CN")
    assert e164 == "+86" + number
    assert normalise(e164, "US") == e164


def test_caller_numbers() -> None:
    assert is_caller_number("95187") and is_caller_number("+8613530525008")
    assert not is_caller_number("12") and not is_caller_number("95 187")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("09:00", time(9)),
        ("09:00:30", time(9, 0, 30)),
        ("23:59:59", time(23, 59, 59)),
        ("24:00", time.max),
        ("00:00", time(0)),
    ],
)
def test_parse_clock(text: str, value: time) -> None:
    assert parse_clock(text) == value


@pytest.mark.parametrize("text", ["9:00", "25:00", "24:01", "12:60", "12:00:60", "noon", ""])
def test_parse_clock_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_clock(text)


def test_timezones() -> None:
    assert check_timezone("Asia/Shanghai") == "Asia/Shanghai"
    with pytest.raises(ValueError):
        check_timezone("Mars/Olympus")


def test_duplicates_and_dnc_are_marked_per_row() -> None:
    rows = [
        RowVerdict(0, ["+1"]),
        RowVerdict(1, ["+2", "+9"]),
        RowVerdict(2, ["+1"]),
        RowVerdict(3, ["+3"]),
    ]
    mark_duplicates(rows, existing={"+3"})
    mark_dnc(rows, blocked={"+9"})
    assert [r.ok for r in rows] == [True, False, False, False]
    assert rows[1].errors[0].field == "contacts[1].phones[1].number"
    assert rows[2].errors[0].type == "duplicate" and rows[3].errors[0].type == "duplicate"
