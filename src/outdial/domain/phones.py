"""Phone number normalisation to E.164 (phonenumbers), and caller-number syntax."""

from __future__ import annotations

import re

import phonenumbers

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
