"""The fast E.164 path answers exactly as phonenumbers does, wherever it answers at all."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outdial.domain.errors import ValidationFailed
from outdial.domain.phones import fast_e164, normalise

REGIONS = ["CN", "US", "GB", "HK", "DE", "IN", "JP", "IT", "RU", "BR", "SG", "FR", "AU", "MX"]


def slow(text: str, region: str) -> str | None:
    """phonenumbers alone: the E.164 it gives, or None where it refuses."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


numbers = st.builds(
    lambda plus, body: ("+" if plus else "") + body,
    st.booleans(),
    st.text(alphabet="0123456789 -", min_size=0, max_size=19),
)


@settings(max_examples=1000, deadline=None)
@given(numbers, st.sampled_from(REGIONS))
def test_the_fast_path_agrees_with_phonenumbers(text: str, region: str) -> None:
    quick = fast_e164(text.strip(), region)
    if quick is not None:
        assert quick == slow(text, region), (text, region)


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(["13", "15", "17", "179", "18", "10", "11", "12", "86", "0", "00", "1"]),
    st.text(alphabet="0123456789", min_size=0, max_size=12),
    st.sampled_from(REGIONS),
)
def test_prefixes_that_phonenumbers_strips_are_left_to_it(
    head: str, tail: str, region: str
) -> None:
    text = head + tail
    quick = fast_e164(text, region)
    if quick is not None:
        assert quick == slow(text, region), (text, region)


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        ("13800138000", "CN", "+8613800138000"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("138-0013-8000", "CN", "+8613800138000"),
        ("+86 138 0013 8000", "US", "+8613800138000"),
        ("+442079460000", "CN", "+442079460000"),
        ("2025550123", "US", "+12025550123"),
    ],
)
def test_common_shapes_take_the_fast_path(text: str, region: str, expected: str) -> None:
    assert fast_e164(text, region) == expected
    assert normalise(text, region) == expected


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("8613800138000", "CN"),  # the country code without a +
        ("010 6552 9988", "CN"),  # the national prefix 0
        ("0013800138000", "CN"),  # the international prefix 00
        ("12025550123", "US"),  # NANPA's national prefix 1
        ("+80012345678", "CN"),  # non-geographic
        ("１３８００１３８０００", "CN"),  # full-width digits
    ],
)
def test_shapes_with_something_to_strip_go_to_phonenumbers(text: str, region: str) -> None:
    assert fast_e164(text, region) is None
    assert normalise(text, region) == slow(text, region)


def test_rejections_are_phonenumbers_own() -> None:
    for text in ("123", "+999123", "abc", "138001380001234567890"):
        with pytest.raises(ValidationFailed):
            normalise(text, "CN")
