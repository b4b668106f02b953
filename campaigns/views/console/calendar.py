"""The campaign calendar (console): the Chinese year an operator plans around — public holidays
and make-up working days, lunar festivals, commerce days, optionally the 24 solar terms — and the
festivals of the next 60 days to plan for. Campaigns join it in the campaigns issue."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import get_language

from accounts.access import staff_required
from campaigns import calendar
from scrm.parsing import int_or_none

AHEAD_DAYS = 60


def _named(days: list[calendar.Day]) -> list[dict]:
    zh = (get_language() or "").startswith("zh")
    return [{"date": d.date, "kind": d.kind, "name": d.name_zh if zh else d.name_en} for d in days]


@staff_required("use_console")
def calendar_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    year = int_or_none(request.GET.get("year"))
    if year is None or not 2004 <= year <= 2100:
        year = today.year
    terms = request.GET.get("terms") == "1"
    days = _named(calendar.year_days(year, terms=terms))
    months = [(month, list(rows)) for month, rows in groupby(days, key=lambda d: d["date"].month)]
    horizon = today + dt.timedelta(days=AHEAD_DAYS)
    ahead = [
        d
        for d in _named(calendar.year_days(today.year) + calendar.year_days(today.year + 1))
        if today <= d["date"] <= horizon and d["kind"] in (calendar.FESTIVAL, calendar.COMMERCE)
    ]
    return render(
        request,
        "campaigns/calendar.html",
        {
            "active": "campaigns",
            "year": year,
            "terms": terms,
            "months": months,
            "ahead": ahead,
            "ahead_days": AHEAD_DAYS,
            "official": calendar.official_arrangement_known(year),
            "previous_year": year - 1,
            "next_year": year + 1,
        },
    )
