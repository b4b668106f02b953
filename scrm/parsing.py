"""What people and clients type, read without surprises: an id that is not a number is no id."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

BIGINT = 2**63 - 1
MONEY = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")


def int_or_none(value: object, *, minimum: int = 0, maximum: int = BIGINT) -> int | None:
    """An integer id or count from form or query text ("12", "１２"), or None for anything else:
    "12.5", "abc", "", a NUL, or a number a database column cannot hold."""
    if value is None:
        return None
    text = typed(value)
    if (
        not text.isascii()
        or not text
        or not (text.isdigit() or (text[0] == "-" and text[1:].isdigit()))
    ):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None


def typed(value: object) -> str:
    """Text as people type it, with full-width digits, signs and spaces from Chinese input
    methods read as their ASCII forms (NFKC): "１２．５" -> "12.5"."""
    return unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()


def money_or_none(value: object, *, maximum: Decimal | None = None) -> Decimal | None:
    """An amount in CNY as people type it ("1,280.50", "¥99", "９９．５", "99元"), or None for
    anything that is not one: negative, more than two decimals, past ``maximum``, "NaN", "1e3"."""
    text = typed(value).replace(",", "").replace(" ", "")
    text = text.removeprefix("¥").removeprefix("￥").removesuffix("元").strip()
    if not MONEY.fullmatch(text):
        return None
    amount = Decimal(text)
    if maximum is not None and amount > maximum:
        return None
    return amount
