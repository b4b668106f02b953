"""The Chinese year an operator plans campaigns around, as plain data: public holidays with the
official make-up working days (``chinesecalendar``, from the State Council's yearly notice), lunar
festivals computed from the lunar calendar and the 24 solar terms (``lunar-python``), and the
commerce days. Pure: no database; the brand's own days come from the campaigns issue's model."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import chinese_calendar
from lunar_python import Lunar, Solar

HOLIDAY, MAKEUP, FESTIVAL, SOLAR_TERM, COMMERCE = (
    "holiday",
    "makeup",
    "festival",
    "solar_term",
    "commerce",
)


@dataclass(frozen=True)
class Day:
    date: dt.date
    kind: str
    name_zh: str
    name_en: str


# Lunar month and day -> names. Laba (12/8) of the previous lunar year falls in January.
LUNAR_FESTIVALS = [
    (1, 1, "春节", "Spring Festival"),
    (1, 15, "元宵节", "Lantern Festival"),
    (5, 5, "端午节", "Dragon Boat Festival"),
    (7, 7, "七夕", "Qixi"),
    (8, 15, "中秋节", "Mid-Autumn Festival"),
    (9, 9, "重阳节", "Double Ninth Festival"),
    (12, 8, "腊八节", "Laba Festival"),
]
COMMERCE_DAYS = [
    (3, 8, "三八女神节", "Women's Day (38)"),
    (5, 20, "520", "520"),
    (6, 1, "儿童节", "Children's Day"),
    (6, 18, "618", "618"),
    (9, 9, "99 大促", "99 sale"),
    (11, 11, "双11", "Double 11"),
    (12, 12, "双12", "Double 12"),
]
# chinesecalendar's holiday names (English) -> Chinese.
HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def lunar_festivals(year: int) -> list[Day]:
    out = []
    for lunar_year in (year - 1, year):
        for month, day, zh, en in LUNAR_FESTIVALS:
            s = Lunar.fromYmd(lunar_year, month, day).getSolar()
            date = dt.date(s.getYear(), s.getMonth(), s.getDay())
            if date.year == year:
                out.append(Day(date, FESTIVAL, zh, en))
    return out


SOLAR_TERMS = {
    "小寒": "Minor Cold", "大寒": "Major Cold", "立春": "Start of Spring", "雨水": "Rain Water",
    "惊蛰": "Awakening of Insects", "春分": "Spring Equinox", "清明": "Qingming",
    "谷雨": "Grain Rain", "立夏": "Start of Summer", "小满": "Grain Buds",
    "芒种": "Grain in Ear", "夏至": "Summer Solstice", "小暑": "Minor Heat", "大暑": "Major Heat",
    "立秋": "Start of Autumn", "处暑": "End of Heat", "白露": "White Dew",
    "秋分": "Autumn Equinox", "寒露": "Cold Dew", "霜降": "Frost's Descent",
    "立冬": "Start of Winter", "小雪": "Minor Snow", "大雪": "Major Snow",
    "冬至": "Winter Solstice",
}  # fmt: skip
# lunar-python names the terms of the neighbouring years in its table by pinyin.
_PINYIN = {
    "DONG_ZHI": "冬至", "XIAO_HAN": "小寒", "DA_HAN": "大寒", "LI_CHUN": "立春",
    "YU_SHUI": "雨水", "JING_ZHE": "惊蛰", "DA_XUE": "大雪",
}  # fmt: skip


def solar_terms(year: int) -> list[Day]:
    """The 24 solar terms of ``year`` (清明 among them)."""
    found: dict[dt.date, str] = {}
    for probe in (dt.date(year, 3, 1), dt.date(year, 12, 31)):
        table = Solar.fromYmd(probe.year, probe.month, probe.day).getLunar().getJieQiTable()
        for name, s in table.items():
            date = dt.date(s.getYear(), s.getMonth(), s.getDay())
            zh = _PINYIN.get(name, name)
            if date.year == year and zh in SOLAR_TERMS:
                found[date] = zh
    return [Day(d, SOLAR_TERM, zh, SOLAR_TERMS[zh]) for d, zh in sorted(found.items())]


def commerce_days(year: int) -> list[Day]:
    days = [Day(dt.date(year, m, d), COMMERCE, zh, en) for m, d, zh, en in COMMERCE_DAYS]
    days.append(Day(_nth_weekday(year, 5, 6, 2), COMMERCE, "母亲节", "Mother's Day"))
    days.append(Day(_nth_weekday(year, 6, 6, 3), COMMERCE, "父亲节", "Father's Day"))
    return days


def official_arrangement_known(year: int) -> bool:
    """Whether the State Council's holiday notice for ``year`` is in the data (published each
    November for the next year)."""
    try:
        chinese_calendar.is_holiday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def public_holidays(year: int) -> list[Day]:
    """Days off and make-up working days of the official arrangement; for a year not yet
    published, none (the festivals still show)."""
    if not official_arrangement_known(year):
        return []
    out = []
    day = dt.date(year, 1, 1)
    while day.year == year:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        if on_holiday and name:
            out.append(Day(day, HOLIDAY, HOLIDAY_NAMES.get(name, name), name))
        elif not on_holiday and day.weekday() >= 5:
            out.append(Day(day, MAKEUP, "调休上班", "Make-up working day"))
        day += dt.timedelta(days=1)
    return out


def year_days(year: int, *, terms: bool = False) -> list[Day]:
    """Everything of ``year`` for the calendar, by date."""
    days = public_holidays(year) + lunar_festivals(year) + commerce_days(year)
    days.append(Day(dt.date(year, 10, 1), FESTIVAL, "国庆节", "National Day"))
    if terms:
        days += solar_terms(year)
    return sorted(days, key=lambda d: (d.date, d.kind))
