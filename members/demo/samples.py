"""The sample files the console offers under Members → Import: a header and a few rows that name
the demo's stores, products and members, so a sample imports cleanly into ``make run``'s demo
(the order rows give 林晓雨 her 3rd purchase: she turns VIP). Dated yesterday and the day before:
an order may not lie in the future, and a sample should not age into one that reads oddly."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from members.models import ImportJob
from members.services.imports import MEMBER_COLUMNS, ORDER_COLUMNS


def sample_rows(kind: str, today: date | None = None) -> list[list[str]]:
    today = today or timezone.localdate()
    if kind == ImportJob.Kind.ORDERS:
        d1, d2 = today - timedelta(days=1), today - timedelta(days=2)
        receipt = f"SH01-{d1:%Y%m%d}-0042"
        at = f"{d1:%Y-%m-%d} 10:31"
        lin = ["pos", receipt, "13800138000", "SH01", at]  # 林晓雨 at the counter, two lines
        zhang = [
            "shop",
            f"T{d2:%Y%m%d}001",
            "13912345678",
            "",
            f"{d2:%Y-%m-%d}",
        ]  # online, no store
        return [
            [*lin, "SK-MASK-10", "补水面膜 10 片装", "skincare", "2", "258.00"],
            [*lin, "SK-SERUM-30", "修护精华 30ml", "skincare", "1", "399.00"],
            [*zhang, "BK-TOAST", "北海道吐司", "bakery", "1", "22.00"],
        ]
    # New members (phones the demo does not hold), one with the balance an old system had.
    return [
        ["14712345678", "孙悦", "SH01", "store", "1995-03-08", "sunyue@example.com", "1280"],
        ["17388886666", "郑凯", "SH01", "mini_program", "", "", ""],
        ["19851234567", "", "", "", "", "", ""],
    ]


def sample_csv(kind: str, today: date | None = None) -> str:
    """The file as Excel opens it (UTF-8 with a BOM)."""
    columns = ORDER_COLUMNS if kind == ImportJob.Kind.ORDERS else MEMBER_COLUMNS
    lines = [columns, *sample_rows(kind, today)]
    return "\ufeff" + "".join(",".join(row) + "\n" for row in lines)
