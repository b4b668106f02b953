"""The Chinese year of the campaign calendar (``campaigns.calendar``), pinned to the dates of
2026 and 2027: lunar festivals, Qingming, National Day, the 2026 official make-up working days,
and the commerce days."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns import calendar


def _on(days, name_en):
    return [d.date for d in days if d.name_en == name_en]


@pytest.mark.parametrize(
    ("year", "spring", "dragon_boat", "qixi", "mid_autumn"),
    [
        (
            2026,
            dt.date(2026, 2, 17),
            dt.date(2026, 6, 19),
            dt.date(2026, 8, 19),
            dt.date(2026, 9, 25),
        ),
        (2027, dt.date(2027, 2, 6), dt.date(2027, 6, 9), dt.date(2027, 8, 8), dt.date(2027, 9, 15)),
    ],
)
def test_the_lunar_festivals_fall_on_their_dates(year, spring, dragon_boat, qixi, mid_autumn):
    days = calendar.year_days(year)
    assert spring in _on(days, "Spring Festival")
    assert _on(calendar.lunar_festivals(year), "Spring Festival") == [spring]
    assert dragon_boat in _on(days, "Dragon Boat Festival")
    assert _on(calendar.lunar_festivals(year), "Qixi") == [qixi]
    assert mid_autumn in _on(days, "Mid-Autumn Festival")
    assert dt.date(year, 10, 1) in _on(days, "National Day")


@pytest.mark.parametrize("year", [2026, 2027])
def test_qingming_is_a_solar_term_on_april_5_and_there_are_24(year):
    terms = calendar.solar_terms(year)
    assert len(terms) == 24 and len({t.name_zh for t in terms}) == 24
    assert [t.date for t in terms if t.name_zh == "清明"] == [dt.date(year, 4, 5)]
    assert calendar.year_days(year) == [
        d for d in calendar.year_days(year, terms=True) if d.kind != calendar.SOLAR_TERM
    ]


def test_laba_of_the_previous_lunar_year_falls_in_january():
    assert _on(calendar.lunar_festivals(2026), "Laba Festival") == [dt.date(2026, 1, 26)]
    assert _on(calendar.lunar_festivals(2027), "Laba Festival") == [dt.date(2027, 1, 15)]


def test_2026_official_arrangement_days_off_and_make_up_working_days():
    days = calendar.public_holidays(2026)
    makeup = sorted(d.date for d in days if d.kind == calendar.MAKEUP)
    # The State Council's notice for 2026: weekends worked for the long holidays.
    assert makeup == [
        dt.date(2026, 1, 4),
        dt.date(2026, 2, 14),
        dt.date(2026, 2, 28),
        dt.date(2026, 5, 9),
        dt.date(2026, 9, 20),
        dt.date(2026, 10, 10),
    ]
    off = {d.date: d.name_zh for d in days if d.kind == calendar.HOLIDAY}
    assert off[dt.date(2026, 2, 17)] == "春节" and off[dt.date(2026, 10, 1)] == "国庆节"
    assert dt.date(2026, 2, 14) not in off


def test_a_year_whose_arrangement_is_not_published_shows_the_festivals_only():
    assert not calendar.official_arrangement_known(2027)
    assert calendar.public_holidays(2027) == []
    assert dt.date(2027, 2, 6) in _on(calendar.year_days(2027), "Spring Festival")


@pytest.mark.parametrize("year", [2026, 2027])
def test_the_commerce_days(year):
    days = {d.name_en: d.date for d in calendar.commerce_days(year)}
    assert days["618"] == dt.date(year, 6, 18)
    assert days["Double 11"] == dt.date(year, 11, 11)
    assert days["Double 12"] == dt.date(year, 12, 12)
    assert days["520"] == dt.date(year, 5, 20)
    assert days["Mother's Day"].weekday() == 6 and 8 <= days["Mother's Day"].day <= 14
    assert days["Father's Day"].weekday() == 6 and 15 <= days["Father's Day"].day <= 21


def test_mothers_and_fathers_day_2026_and_2027():
    days = {
        (d.date.year, d.name_en): d.date for y in (2026, 2027) for d in calendar.commerce_days(y)
    }
    assert days[(2026, "Mother's Day")] == dt.date(2026, 5, 10)
    assert days[(2027, "Mother's Day")] == dt.date(2027, 5, 9)
    assert days[(2026, "Father's Day")] == dt.date(2026, 6, 21)
    assert days[(2027, "Father's Day")] == dt.date(2027, 6, 20)


@pytest.mark.django_db
def test_the_calendar_page_shows_the_year_in_each_language(operator_client, clerk_client):
    import time_machine

    with time_machine.travel(dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC), tick=False):
        zh = operator_client.get("/console/campaigns/?view=list&year=2026").content.decode()
        en = operator_client.get(
            "/console/campaigns/?view=list&year=2027&terms=1", HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
        fallback = operator_client.get("/console/campaigns/?year=99999").content.decode()
    assert "春节" in zh and "调休上班" in zh and "双11" in zh
    assert "Spring Festival" in en and "Qingming" in en and "not published" in en
    assert "Make-up working day</span>" not in en  # 2027's arrangement is not known yet
    # The plan-ahead strip from 2 Dec 2026: 双12 and the next Laba, not 双11.
    strip = zh.split("data-plan-ahead", 1)[1].split("</div>\n</div>")[0]
    assert "双12" in strip and "腊八节" in strip and "双11" not in strip
    assert "2026" in fallback
    assert clerk_client.get("/console/campaigns/").status_code == 403
