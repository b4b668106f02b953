"""What people and clients type, read without surprises: an id that is not a number is no id."""

from __future__ import annotations

import unicodedata

BIGINT = 2**63 - 1


def int_or_none(value: object, *, minimum: int = 0, maximum: int = BIGINT) -> int | None:
    """An integer id or count from form or query text ("12", "１２"), or None for anything else:
    "12.5", "abc", "", a NUL, or a number a database column cannot hold."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text or not (text.isdigit() or (text[0] == "-" and text[1:].isdigit())):
        return None
    number = int(text)
    return number if minimum <= number <= maximum else None
