"""English: ISO first for inputs (see scrm.formats), then Django's."""

from django.conf.locale.en import formats as django_en

DATE_INPUT_FORMATS = ["%Y-%m-%d", *(f for f in django_en.DATE_INPUT_FORMATS if f != "%Y-%m-%d")]
DATETIME_INPUT_FORMATS = [
    "%Y-%m-%dT%H:%M",  # <input type="datetime-local">
    "%Y-%m-%dT%H:%M:%S",
    *django_en.DATETIME_INPUT_FORMATS,
]
