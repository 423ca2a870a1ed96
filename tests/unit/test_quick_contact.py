"""The plainly-valid check answers only where the validator accepts, with the same values."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.domain.contact_rows import quick_contact
from outdial.domain.errors import ValidationFailed
from outdial.services.models import ContactIn
from outdial.services.validation import validate

texts = st.one_of(
    st.text(max_size=45),
    st.text(alphabet=" \t\u3000\x1c本人selfx", max_size=6),
    st.integers(),
    st.none(),
)
phone = st.dictionaries(
    st.sampled_from(["number", "relation", "phone_group", "extra"]), texts, max_size=4
)
contact = st.dictionaries(
    st.sampled_from(
        ["name", "description", "external_id", "pass_through", "attributes", "timezone", "phones"]
    ),
    st.one_of(
        texts,
        st.lists(phone, max_size=4),
        st.dictionaries(st.text(max_size=70), st.one_of(st.text(max_size=5), st.integers())),
    ),
    max_size=7,
)


def same_as_the_validator(raw: dict[str, Any]) -> None:
    quick = quick_contact(raw)
    if quick is None:
        return
    try:
        checked = validate(ContactIn, raw)
    except ValidationFailed as exc:  # pragma: no cover - the failure this test exists for
        raise AssertionError(f"quick accepted what the validator refuses: {raw!r}") from exc
    for name in ("name", "description", "external_id", "pass_through", "attributes", "timezone"):
        assert getattr(quick, name) == getattr(checked, name), name
    assert [tuple(p) for p in quick.phones] == [
        (p.number, p.relation, p.phone_group) for p in checked.phones
    ]


@settings(max_examples=1000, deadline=None)
@given(contact)
def test_a_quick_contact_is_one_the_validator_accepts_as_it_is(raw: dict[str, Any]) -> None:
    same_as_the_validator(raw)


def test_a_roster_row_is_quick() -> None:
    raw = {
        "name": "张三",
        "external_id": "A1",
        "description": "老客户",
        "attributes": {"城市": "杭州"},
        "phones": [
            {"number": "13800000001", "relation": ""},
            {"number": "139", "relation": "配偶"},
        ],
    }
    quick = quick_contact(raw)
    assert quick is not None and quick.phones[1].relation == "配偶"


def test_what_the_validator_must_judge_is_not_quick() -> None:
    base = {"phones": [{"number": "13800000001"}]}
    for raw in (
        {**base, "name": "x" * 21},
        {**base, "timezone": "Asia/Shanghai"},
        {"phones": [{"number": "1", "relation": "配偶"}]},
        {"phones": []},
        {**base, "colour": "red"},
        {"phones": [{"number": "138", "relation": " 本人"}]},
    ):
        assert quick_contact(raw) is None, raw


near_limits = st.fixed_dictionaries(
    {
        "name": st.text(max_size=22),
        "description": st.text(max_size=202),
        "pass_through": st.text(max_size=42),
        "phones": st.lists(
            st.fixed_dictionaries(
                {
                    "number": st.text(min_size=0, max_size=34),
                    "relation": st.sampled_from(["", "本人", "self", "配偶", " x", "y" * 21]),
                }
            ),
            min_size=0,
            max_size=4,
        ),
    },
    optional={
        "external_id": st.one_of(st.none(), st.text(max_size=66)),
        "attributes": st.dictionaries(st.text(max_size=66), st.text(max_size=3), max_size=52),
    },
)


@settings(max_examples=1000, deadline=None)
@given(near_limits)
def test_rows_near_the_limits(raw: dict[str, Any]) -> None:
    same_as_the_validator(raw)


headers = st.lists(
    st.sampled_from(
        ["姓名", "手机号", "备用电话", "电话(配偶)", "关系", "客户编号", "备注", "透传", "时区",
         "城市", "x" * 70, "标签"]
    ),
    min_size=1,
    max_size=7,
)  # fmt: skip
cells = st.lists(
    st.one_of(
        st.just(""),
        st.sampled_from(["13800000001", "本人", "配偶", "self", " 本人", "Asia/Shanghai"]),
        st.text(max_size=25),
    ),
    max_size=8,
)


@settings(max_examples=1000, deadline=None)
@given(headers, cells)
def test_a_quick_row_is_the_contact_the_row_maps_to(header: list[str], row: list[str]) -> None:
    from outdial.domain.columns import MappingError, detect

    try:
        columns = detect([header, row])
    except MappingError:
        return
    quick = columns.quick(row)
    if quick is None:
        return
    raw = columns.contact(row)
    assert quick == quick_contact(raw), (header, row)
    same_as_the_validator(raw)
