"""Telephone numbers: E.164 normalisation, do-not-call keys and time zones.

Contacts are stored in E.164 (``+81312345678``), parsed with ``phonenumbers`` against the
campaign's default region. Do-not-call lists are uploaded as digits (9–30 of them) or as
E.164 with ``+``; they are kept as given (``+`` form verbatim, digits verbatim) because
parsing ten million numbers would cost minutes and a bare digit string is ambiguous
without a region. A contact is then checked against every form the same number can be
written in: E.164, E.164 without ``+``, the national significant number, and the national
form with its trunk prefix (``0312345678``). Erring towards a match is the safe side.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType, timezone

from dialerd.errors import UsageError

_DNC_DIGITS = re.compile(r"[0-9]{9,30}")
_DNC_PLUS = re.compile(r"\+[0-9]{9,30}")
_UNKNOWN_ZONE = "Etc/Unknown"


class InvalidNumber(UsageError):  # noqa: N818 - reads as a verdict
    """A telephone number that cannot be dialled; the message says why."""


def normalize(raw: str, region: str) -> str:
    """The E.164 form of ``raw`` read in ``region``, or :class:`InvalidNumber`."""
    text = raw.strip()
    if not text:
        raise InvalidNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"not a phone number ({_parse_reason(exc)})") from None
    # Valid in the default region implies valid (and is several times cheaper to check
    # for shared country codes such as +1, where the full check tries every region).
    if not phonenumbers.is_valid_number_for_region(
        parsed, region
    ) and not phonenumbers.is_valid_number(parsed):
        if phonenumbers.is_possible_number(parsed):
            raise InvalidNumber("not a valid number in its numbering plan")
        raise InvalidNumber("wrong length for its country")
    return str(phonenumbers.format_number(parsed, PhoneNumberFormat.E164))


def dnc_entry(raw: str) -> str:
    """Validate one do-not-call upload value and return the key it is stored under."""
    text = raw.strip()
    if _DNC_DIGITS.fullmatch(text) or _DNC_PLUS.fullmatch(text):
        return text
    if not text:
        raise InvalidNumber("empty")
    digits = text.removeprefix("+")
    if not digits.isdigit() or not digits.isascii():
        raise InvalidNumber("only digits are allowed (optionally one leading +)")
    raise InvalidNumber(f"{len(digits)} digits; a number must have 9 to 30")


@lru_cache(maxsize=512)
def _trunk_prefix(region: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
    return (meta.national_prefix or "") if meta is not None else ""


def dnc_keys(e164: str) -> tuple[str, ...]:
    """Every form of an E.164 number that a do-not-call list may hold it as."""
    keys = {e164, e164.removeprefix("+")}
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return tuple(sorted(keys))
    national = phonenumbers.national_significant_number(parsed)
    keys.add(national)
    region = phonenumbers.region_code_for_number(parsed)
    if region:
        prefix = _trunk_prefix(region)
        if prefix:
            keys.add(prefix + national)
    return tuple(sorted(k for k in keys if _DNC_DIGITS.fullmatch(k) or _DNC_PLUS.fullmatch(k)))


def time_zones(e164: str) -> tuple[str, ...]:
    """The IANA zones the number may be in (several for large or non-geographic ranges)."""
    parsed = phonenumbers.parse(e164, None)
    return tuple(z for z in timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE)


def is_mobile(e164: str) -> bool:
    """Whether the number is a mobile (some regimes treat mobiles differently)."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    return kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _parse_reason(exc: phonenumbers.NumberParseException) -> str:
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        phonenumbers.NumberParseException.NOT_A_NUMBER: "no digits",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
        phonenumbers.NumberParseException.TOO_LONG: "too long",
    }
    return reasons.get(exc.error_type, "unreadable")
