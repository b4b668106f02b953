"""Our additions to Django's locale formats (``FORMAT_MODULE_PATH``).

A date field is written into ``<input type="date">`` with the first of ``DATE_INPUT_FORMATS``,
and the browser reads only ISO 8601 there: Django's Chinese formats start with ``%Y/%m/%d``, which
the input cannot read, so it showed empty and saving the form erased the date. Every language
here starts its input formats with ISO; the dates shown to people keep the language's own format
(``DATE_FORMAT``: 2026年12月2日, Dec. 2, 2026).
"""
