"""Strings Django and allauth show whose Simplified Chinese catalogs lack a translation (or give
one that reads badly), marked here so that ``makemessages`` puts them in our catalog, which comes
first (``LOCALE_PATHS``). ``tests/test_i18n.py`` checks each is translated and that no page in
Chinese shows one of them, nor another of a list of common English strings, untranslated."""

from __future__ import annotations

from django.utils.translation import gettext_noop

# Marks only: makemessages reads these calls; tests/test_i18n.py reads this file for the list.
gettext_noop("- Select an option -")  # Django 6's empty choice; not in its zh-Hans catalog
gettext_noop("“%(value)s” is not a valid binary value.")
gettext_noop("No %s matches the given query.")
# Django's "具有 %(field_label)s 的 %(model_name)s 已存在。" reads with stray spaces.
gettext_noop("%(model_name)s with this %(field_label)s already exists.")
gettext_noop("Filter by %(field_name)s")
gettext_noop("Logout")
gettext_noop("Forgot Password?")  # allauth's
gettext_noop("yes")
gettext_noop("no")
