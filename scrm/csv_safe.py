"""Every CSV the product writes goes through this writer: a cell that a spreadsheet would run as a
formula (it starts with =, +, -, @, a tab or a carriage return: ``=HYPERLINK(...)``, ``+1+1``,
``@SUM(1)``) is written with a leading apostrophe, which Excel and WPS show as plain text. Numbers
stay numbers: a negative amount is not a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # Excel opens UTF-8 CSV with Chinese correctly only with it


def cell(value: Any) -> Any:
    """A value safe for a spreadsheet cell."""
    if value is None:
        return ""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        try:
            Decimal(text)
        except ArithmeticError:
            return "'" + text
    return text


class _Line:
    def write(self, value: str) -> str:
        return value


class SafeWriter:
    """``csv.writer`` whose rows are made safe; ``row()`` returns the line (for streaming)."""

    def __init__(self, out: Any = None) -> None:
        self._writer = csv.writer(out if out is not None else _Line())

    def row(self, values: Iterable[Any]) -> Any:
        return self._writer.writerow([cell(v) for v in values])

    def rows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.row(values)


def csv_text(rows: Iterable[Iterable[Any]], *, bom: bool = True) -> str:
    """A whole CSV file as text, every cell safe."""
    out = io.StringIO()
    if bom:
        out.write(BOM)
    SafeWriter(out).rows(rows)
    return out.getvalue()


def csv_decode(raw: bytes) -> str | None:
    """An uploaded CSV file's text: UTF-8 (with or without Excel's BOM), else GB18030 (Excel on
    Chinese Windows saves CSV in GBK); None for what is no text (a spreadsheet, an image)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError:
            return None
    return text if text.strip() and "\x00" not in text else None
