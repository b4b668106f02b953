"""The campaign calendar (console): the Chinese year an operator plans around — public holidays
and make-up working days, lunar festivals, commerce days, optionally the 24 solar terms — with
the brand's own days and the campaigns on their send days, by month (a list on a phone), by week
or as a list of the year; and the festivals of the next 60 days that no campaign plans for yet."""

from __future__ import annotations

import calendar as pycal
import datetime as dt
from collections import defaultdict
from itertools import groupby
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language

from accounts.access import actor_of, staff_required
from campaigns import calendar
from campaigns.models import BrandDay, Campaign
from campaigns.selectors.campaigns import campaigns_between, occasion_planned
from scrm.parsing import int_or_none

AHEAD_DAYS = 60
VIEWS = ("month", "week", "list")


def _named(days: list[calendar.Day]) -> list[dict]:
    zh = (get_language() or "").startswith("zh")
    return [{"date": d.date, "kind": d.kind, "name": d.name_zh if zh else d.name_en} for d in days]


def _brand_days(first: dt.date, last: dt.date) -> list[dict]:
    """The brand's own days falling between two dates (a yearly 29 February is the 28th in other
    years; a monthly 31st is the month's last day)."""
    out: list[dict] = []
    for b in BrandDay.objects.select_related("store"):
        dates: list[dt.date] = []
        if b.repeat == BrandDay.Repeat.ONCE:
            dates = [b.date]
        elif b.repeat == BrandDay.Repeat.YEARLY:
            for year in range(first.year, last.year + 1):
                day = min(b.date.day, pycal.monthrange(year, b.date.month)[1])
                dates.append(dt.date(year, b.date.month, day))
        else:
            y, m = first.year, first.month
            while (y, m) <= (last.year, last.month):
                day = min(b.date.day, pycal.monthrange(y, m)[1])
                if dt.date(y, m, day) >= b.date:
                    dates.append(dt.date(y, m, day))
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        label = f"{b.name} · {b.store.name}" if b.store_id else b.name
        out += [{"date": d, "kind": "brand", "name": label} for d in dates if first <= d <= last]
    return out


def _days(first: dt.date, last: dt.date, terms: bool) -> dict[dt.date, list[dict]]:
    by_day: dict[dt.date, list[dict]] = defaultdict(list)
    for year in range(first.year, last.year + 1):
        for d in _named(calendar.year_days(year, terms=terms)):
            if first <= d["date"] <= last:
                if d["kind"] in (calendar.FESTIVAL, calendar.COMMERCE, calendar.HOLIDAY):
                    d["plan_url"] = _plan_link(d)
                by_day[d["date"]].append(d)
    for d in _brand_days(first, last):
        by_day[d["date"]].append(d)
    return by_day


def _campaigns(first: dt.date, last: dt.date) -> dict[dt.date, list[Campaign]]:
    out: dict[dt.date, list[Campaign]] = defaultdict(list)
    for day, c in campaigns_between(first, last):
        out[day].append(c)
    return out


def _plan_link(d: dict) -> str:
    return reverse("campaigns:new") + "?" + urlencode({"occasion": d["name"], "date": d["date"]})


@staff_required("use_console")
def calendar_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    view = request.GET.get("view", "month")
    if view not in VIEWS:
        view = "month"
    terms = request.GET.get("terms") == "1"
    year = int_or_none(request.GET.get("year"))
    if year is None or not 2004 <= year <= 2100:
        year = today.year
    month = int_or_none(request.GET.get("month"))
    if month is None or not 1 <= month <= 12:
        month = today.month if year == today.year else 1
    context: dict = {"active": "campaigns", "view": view, "terms": terms, "year": year}
    if view == "list":
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        by_day = _days(first, last, terms)
        on = _campaigns(first, last)
        rows = [
            {"date": day, "items": by_day.get(day, []), "campaigns": on.get(day, [])}
            for day in sorted(set(by_day) | set(on))
        ]
        context["months"] = [
            (m, list(group)) for m, group in groupby(rows, key=lambda r: r["date"].month)
        ]
        context |= {"previous": {"year": year - 1}, "next": {"year": year + 1}}
    elif view == "week":
        raw = request.GET.get("date", "")
        try:
            anchor = dt.date.fromisoformat(raw) if raw else today
        except ValueError:
            anchor = today
        if not 2004 <= anchor.year <= 2100:
            anchor = today
        first = anchor - dt.timedelta(days=anchor.weekday())
        last = first + dt.timedelta(days=6)
        by_day, on = _days(first, last, terms), _campaigns(first, last)
        context["week"] = [
            {
                "date": first + dt.timedelta(days=i),
                "items": by_day.get(first + dt.timedelta(days=i), []),
                "campaigns": on.get(first + dt.timedelta(days=i), []),
                "today": first + dt.timedelta(days=i) == today,
            }
            for i in range(7)
        ]
        context |= {
            "first": first,
            "last": last,
            "previous": {"view": "week", "date": (first - dt.timedelta(days=7)).isoformat()},
            "next": {"view": "week", "date": (first + dt.timedelta(days=7)).isoformat()},
        }
        year = first.year
    else:
        month_first = dt.date(year, month, 1)
        month_last = dt.date(year, month, pycal.monthrange(year, month)[1])
        first = month_first - dt.timedelta(days=month_first.weekday())
        last = month_last + dt.timedelta(days=6 - month_last.weekday())
        by_day, on = _days(first, last, terms), _campaigns(first, last)
        cells = []
        day = first
        while day <= last:
            items = by_day.get(day, [])
            cells.append(
                {
                    "date": day,
                    "out": day.month != month,
                    "today": day == today,
                    "off": any(i["kind"] == calendar.HOLIDAY for i in items),
                    "items": items,
                    "campaigns": on.get(day, []),
                }
            )
            day += dt.timedelta(days=1)
        prev_month = (year - 1, 12) if month == 1 else (year, month - 1)
        next_month = (year + 1, 1) if month == 12 else (year, month + 1)
        context |= {
            "month": month,
            "month_first": month_first,
            "cells": cells,
            "listed": [c for c in cells if not c["out"] and (c["items"] or c["campaigns"])],
            "previous": {"year": prev_month[0], "month": prev_month[1]},
            "next": {"year": next_month[0], "month": next_month[1]},
            "weekdays": [dt.date(2024, 1, i) for i in range(1, 8)],  # a Monday-first week
        }
    horizon = today + dt.timedelta(days=AHEAD_DAYS)
    planned = (
        list(
            Campaign.objects.exclude(status=Campaign.Status.CANCELLED).filter(
                starts_at__gte=timezone.now() - dt.timedelta(days=30)
            )
        )
        if actor_of(request).whole_brand
        else []
    )
    ahead = []
    for d in _named(calendar.year_days(today.year) + calendar.year_days(today.year + 1)):
        if today <= d["date"] <= horizon and d["kind"] in (calendar.FESTIVAL, calendar.COMMERCE):
            d["planned"] = occasion_planned(d["date"], d["name"], planned)
            d["plan_url"] = _plan_link(d)
            ahead.append(d)
    context |= {
        "ahead": ahead,
        "unplanned": sum(1 for d in ahead if not d["planned"]),
        "ahead_days": AHEAD_DAYS,
        "official": calendar.official_arrangement_known(year),
        "previous_query": urlencode(
            {**context["previous"], **({"terms": 1} if terms else {}), "view": view}
        ),
        "next_query": urlencode(
            {**context["next"], **({"terms": 1} if terms else {}), "view": view}
        ),
        "terms_query": urlencode(
            {
                **{k: v for k, v in request.GET.items() if k != "terms"},
                **({} if terms else {"terms": 1}),
            }
        ),
        "can_plan": request.user.has_perm("accounts.manage_members")
        and actor_of(request).whole_brand,
    }
    return render(request, "campaigns/calendar.html", context)
