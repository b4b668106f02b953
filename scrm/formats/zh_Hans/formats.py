"""Simplified Chinese: ISO first for inputs (see scrm.formats), then Django's."""

from django.conf.locale.zh_Hans import formats as django_zh

DATE_INPUT_FORMATS = ["%Y-%m-%d", *(f for f in django_zh.DATE_INPUT_FORMATS if f != "%Y-%m-%d")]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",  # <input type="datetime-local">
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    *(f for f in django_zh.DATETIME_INPUT_FORMATS if f != "%Y-%m-%d %H:%M:%S"),
]
