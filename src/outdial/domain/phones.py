"""Phone number normalisation to E.164 (phonenumbers), and caller-number syntax.

Bulk imports normalise millions of numbers, and phonenumbers' parser takes ~30 µs a number,
so the common shapes — digits alone, or ``+`` and digits, with spaces or hyphens — go through a
fast path built from phonenumbers' own metadata. It answers only where phonenumbers would
answer the same (no country code, international or national prefix to strip, no leading zero,
a possible length); anything else goes to phonenumbers. Tests hold the two to the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

from outdial.domain.errors import ValidationFailed

_SERVICE_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


def normalise(raw: str, default_region: str, field: str = "number") -> str:
    """Return ``raw`` in E.164, or raise ValidationFailed naming ``field``.

    Numbers without a leading ``+`` are read in ``default_region``. A number is accepted when
    its length is possible for its region; strict range validation would reject new number
    blocks and the fictional test ranges, so it is left to the carrier.
    """
    text = raw.strip()
    if not text:
        raise ValidationFailed.field(field, "phone number is empty", "missing")
    if (quick := fast_e164(text, default_region)) is not None:
        return quick
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed.field(field, f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed.field(field, f"not a possible phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def is_region_code(code: str) -> bool:
    return code.upper() in phonenumbers.SUPPORTED_REGIONS


def is_caller_number(text: str) -> bool:
    """Caller numbers may be E.164 or short service numbers such as 95187."""
    return bool(_SERVICE_NUMBER.match(text))


_SEPARATORS = str.maketrans("", "", " -")
MIN_NSN, MAX_NSN = 2, 17  # phonenumbers' bounds on a national significant number
MIN_DIGITS = 3  # fewer, with a separator, and phonenumbers finds no number at all


@dataclass(frozen=True)
class _Plan:
    """What the fast path needs of one region's metadata."""

    country_code: str
    lengths: frozenset[int]  # possible lengths of a national number, local-only ones included
    national_prefix: re.Pattern[str] | None  # national_prefix_for_parsing
    international_prefix: re.Pattern[str] | None


@cache
def _plan(region: str) -> _Plan | None:
    meta = PhoneMetadata.metadata_for_region(region.upper())
    if meta is None or meta.general_desc is None:
        return None
    desc = meta.general_desc
    lengths = frozenset(
        n for n in (*desc.possible_length, *desc.possible_length_local_only) if n > 0
    )
    return _Plan(
        str(meta.country_code),
        lengths,
        _compiled(meta.national_prefix_for_parsing),
        _compiled(meta.international_prefix),
    )


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    return re.compile(pattern) if pattern else None


def fast_e164(text: str, region: str) -> str | None:
    """``text`` in E.164 when it is of a shape phonenumbers would accept as it stands, else
    None (then ask phonenumbers)."""
    plus = text.startswith("+")
    digits = (text[1:] if plus else text).translate(_SEPARATORS)
    if len(digits) < MIN_DIGITS or not digits.isascii() or not digits.isdigit():
        return None
    if plus:
        return _international(digits)
    plan = _plan(region)
    if plan is None or digits.startswith(plan.country_code):
        return None
    if plan.international_prefix is not None and plan.international_prefix.match(digits):
        return None
    return _national(digits, plan)


@cache
def fast_e164_for(region: str) -> Callable[[str], str | None]:
    """``fast_e164`` with its region bound: the region's metadata looked up once, so a bulk
    import pays only for the digits. ``fast_e164_for(r)(text) == fast_e164(text, r)``."""
    plan = _plan(region)
    if plan is None:
        return lambda text: fast_e164(text, region)
    code, lengths, strip = plan.country_code, plan.lengths, _SEPARATORS
    national = plan.national_prefix.match if plan.national_prefix is not None else None
    international = (
        plan.international_prefix.match if plan.international_prefix is not None else None
    )

    def e164(text: str) -> str | None:
        if text[:1] == "+":
            return fast_e164(text, region)
        digits = text.translate(strip)
        if (
            len(digits) < MIN_DIGITS
            or not digits.isascii()
            or not digits.isdigit()
            or digits.startswith(code)
            or digits[0] == "0"
            or len(digits) > MAX_NSN
            or len(digits) not in lengths
            or (international is not None and international(digits))
            or (national is not None and national(digits))
        ):
            return None
        return f"+{code}{digits}"

    return e164


def _national(digits: str, plan: _Plan) -> str | None:
    if not MIN_NSN <= len(digits) <= MAX_NSN or digits[0] == "0":
        return None
    if len(digits) not in plan.lengths:
        return None
    if plan.national_prefix is not None and plan.national_prefix.match(digits):
        return None
    return f"+{plan.country_code}{digits}"


def _international(digits: str) -> str | None:
    if digits.startswith("0"):  # no country code starts with 0
        return None
    for size in (1, 2, 3):
        code = int(digits[:size] or 0)
        regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
        if regions:
            main = regions[0]
            plan = None if main == "001" else _plan(main)
            return None if plan is None else _national(digits[size:], plan)
    return None
