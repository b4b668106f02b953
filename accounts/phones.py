"""Phone numbers: accept what people type, store E.164. Mainland China (+86) is the default."""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext_lazy as _

from scrm.masking import mask_name, mask_phone

__all__ = ["InvalidPhone", "mask_name", "mask_phone", "normalize_phone"]

# ASCII digits only: Python's \d also matches other scripts' digits, which no gateway can dial.
CN_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# What people type between digits: spaces, hyphens and dashes, dots, brackets.
SEPARATORS = re.compile(r"[\s\-().\u2010-\u2015\u2212\u30fb]")

INVALID_PHONE_MESSAGE = _("Enter an 11-digit mobile number")


class InvalidPhone(ValueError):
    pass


def normalize_phone(raw: str) -> str:
    """``13800138000``, ``+8613800138000``, ``+86 138 0013 8000``, ``0086...`` -> ``+8613800138000``.

    Full-width digits and signs (``１３８００１３８０００``, ``＋８６``), typed by Chinese input
    methods, are read as their ASCII forms (NFKC); anything else that is not a digit is refused."""
    value = SEPARATORS.sub("", unicodedata.normalize("NFKC", raw or ""))
    if value.startswith("00"):
        value = "+" + value[2:]
    if CN_MOBILE.match(value):
        return "+86" + value
    if value.startswith("86") and CN_MOBILE.match(value[2:]):
        return "+" + value
    if value.startswith("+86"):
        if CN_MOBILE.match(value[3:]):
            return value
        raise InvalidPhone(str(INVALID_PHONE_MESSAGE))
    if E164.match(value):
        return value
    raise InvalidPhone(str(INVALID_PHONE_MESSAGE))
