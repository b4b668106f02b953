"""No English left on a Chinese page: every page of the console, counter and portal, and the
sign-in pages, rendered in zh-hans, shows none of our own English strings nor of a list of common
Django and allauth ones, in its text or its placeholders, labels and titles; and the strings
Django's and allauth's Chinese catalogs lack (scrm/i18n_gaps.py) are ours to translate."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.utils import translation

from tests.test_permission_matrix import _client, _expected, _path, _routes, world  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
# Common strings of Django, allauth and forms that a page shows when a catalog misses them.
COMMON = [
    "- Select an option -",
    "This field is required.",
    "Enter a valid email address.",
    "Enter a valid date.",
    "Enter a whole number.",
    "Forgot Password?",
    "Remember Me",
    "Sign In",
    "Sign Out",
    "Log out",
    "Currently:",
    "Change:",
    "Clear",
    "already exists.",
    "Select a valid choice.",
    "Ensure this value",
    "Show all",
]


class _Text(HTMLParser):
    """What a person reads on the page: its text and the attributes shown to them."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "svg", "code"):
            self._skip += 1
        for k, v in attrs:
            if k in ("placeholder", "title", "aria-label", "alt", "data-confirm") and v:
                self.parts.append(v)

    def handle_endtag(self, tag):
        if tag in ("script", "style", "svg", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _ours() -> list[str]:
    """Our English msgids long enough not to be a name or a code (two words or more)."""
    po = polib.pofile(str(ROOT / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    out = []
    for e in po:
        text = e.msgid
        if "%" in text or "{" in text or len(text) < 12 or " " not in text:
            continue
        if e.msgstr and e.msgstr != text:
            out.append(text)
    return out


def _gaps() -> list[str]:
    import ast

    tree = ast.parse((ROOT / "scrm" / "i18n_gaps.py").read_text())
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "gettext_noop"
    ]


def test_the_gaps_of_djangos_and_allauths_catalogs_are_translated():
    assert len(_gaps()) >= 9
    with translation.override("zh-hans"):
        for text in _gaps():
            assert translation.gettext(text) != text, text


@pytest.mark.django_db
def test_no_page_in_chinese_shows_an_english_string(world, settings):  # noqa: F811
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    phrases = sorted(set(COMMON) | set(_ours()), key=len, reverse=True)
    found: list[str] = []
    clients: dict[str, Client] = {}
    pages = 0
    for route, name in _routes():
        if name.startswith(("api:", "admin:")) or "(?P<" in route or "logout" in name:
            continue
        for actor in ("anonymous", "operator", "admin", "clerk_sh", "member"):
            if _expected(name, actor, "GET", route) == "allow":
                break
        else:
            continue
        client = clients.setdefault(actor, _client(actor, world))
        client.cookies["django_language"] = "zh-hans"
        path = _path(route, name, world)
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="zh-hans")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        pages += 1
        parser = _Text()
        parser.feed(response.content.decode())
        text = "\n".join(parser.parts)
        for phrase in phrases:
            if re.search(r"(?<![A-Za-z])" + re.escape(phrase) + r"(?![A-Za-z])", text):
                found.append(f"{path} ({actor}): {phrase!r}")
    assert pages > 40
    assert not found, "\n".join(found)
