"""No 500 for any input: the classes of bad values that once answered 500 (NUL bytes, numbers like
12.345, numbers past any column, year 9999, ids that are not numbers, very long text, JSON nested
thousands deep) sent to every form of every page and to every API endpoint. Any 5xx fails.

Pages: each URL pattern (from the resolver, with the permission matrix's objects) is fetched as an
actor that may use it; every form and htmx control on the page is found in the HTML and posted
with every field set to each bad value, and every page is asked for with each bad value in its
query parameters. API: every endpoint gets each bad value in every body field the API knows, as a
string and as a JSON number, and in its query parameters.
"""

from __future__ import annotations

import json
import re
import time
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client

# The permission matrix's objects, actors and routes (its ``world`` fixture too).
from tests.test_permission_matrix import _client, _expected, _path, _routes, world  # noqa: F401

BAD_TEXT = [
    "\x00",
    "a\x00b",
    "12.345",
    "-1",
    "99999999999999999999999",
    "9999999999.99",
    "1e309",
    "NaN",
    "9999-12-31",
    "9999-12-31T23:59",
    "0000-00-00",
    "abc",
    "１３８００１３８０００",
    '=HYPERLINK("http://x","y")',
    "x" * 5000,
    "[" * 5000,
    "",
]
BAD_NUMBERS = [10**30, -(10**30), 12.345, 1e308, -1, 0]
DEEP_JSON = "[" * 5000 + "]" * 5000
API_FIELDS = [
    "phone", "name", "store", "channel", "email", "birthday", "referral_code", "consent",
    "source", "external_id", "member", "placed_at", "total", "before_vouchers", "vouchers",
    "amount", "points", "reward", "reason", "order", "frequency",
]  # fmt: skip
QUERY = ["q", "page", "phone", "code", "store", "stage", "tier", "sort", "segment", "status"]
SKIP = {"account_logout", "set_language", "admin:logout"}  # would sign the client out


class _Forms(HTMLParser):
    """Where the page's forms and htmx controls send data, with their field names."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[tuple[str, str, set[str]]] = []
        self._form: tuple[str, str, set[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            method, url = "post", a.get("action", "")
            for verb in ("post", "get"):
                if f"hx-{verb}" in a:
                    method, url = verb, a[f"hx-{verb}"]
            if "hx-post" not in a and "hx-get" not in a:
                method = (a.get("method") or "get").lower()
            self._form = (method, url, set())
            self.targets.append(self._form)
        elif tag in ("input", "select", "textarea", "button") and a.get("name") and self._form:
            self._form[2].add(a["name"])
        for verb in ("post", "get"):
            if tag != "form" and f"hx-{verb}" in a:
                names = {a["name"]} if a.get("name") else set()
                self.targets.append((verb, a[f"hx-{verb}"], names))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None


def _actor_for(name: str, route: str) -> str | None:
    for actor in ("operator", "admin", "clerk_sh", "member"):
        if _expected(name, actor, "GET", route) == "allow":
            return actor
    return None


@pytest.mark.django_db
def test_bad_values_in_every_form_and_query_never_answer_5xx(world, settings):  # noqa: F811
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    errors: list[str] = []
    sent = 0
    started = time.monotonic()
    clients: dict[str, Client] = {}

    def call(client: Client, method: str, path: str, data: dict) -> None:
        nonlocal sent
        sent += 1
        try:
            response = getattr(client, method)(path, data)
        except Exception as exc:  # the test client re-raises what a view raised
            errors.append(f"{method.upper()} {path} {list(data)[:3]}: {type(exc).__name__}: {exc}")
            return
        if response.status_code >= 500:
            errors.append(f"{method.upper()} {path} {list(data)[:3]}: {response.status_code}")

    for route, name in _routes():
        if name in SKIP or name.startswith(("api:", "admin:")) or "(?P<" in route:
            continue
        actor = _actor_for(name, route)
        if actor is None:
            continue
        if actor not in clients:
            clients[actor] = _client(actor, world)
        client = clients[actor]
        path = _path(route, name, world)
        page = client.get(path)
        for value in BAD_TEXT:
            call(client, "get", path, {q: value for q in QUERY})
        if page.status_code != 200 or "text/html" not in page.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(page.content.decode())
        for method, url, fields in parser.targets:
            target = urlsplit(url).path or path
            if not target.startswith("/") or "logout" in target or "/i18n/" in target:
                continue
            names = fields - {"csrfmiddlewaretoken"} or {"q"}
            for value in BAD_TEXT:
                call(client, method, target, {n: value for n in names})
    seconds = time.monotonic() - started
    print(f"fuzz pages: {sent} requests in {seconds:.0f} s")
    assert sent > 1000
    assert not errors, f"{len(errors)} answered 5xx:\n" + "\n".join(errors[:50])


def _api_bodies():
    for value in [*BAD_TEXT, *BAD_NUMBERS]:
        body = {f: value for f in API_FIELDS}
        line = {"sku": value, "quantity": value, "amount": value, "name": value}
        yield {**body, "lines": [line], "consent": {"sms": value}}
        yield {**body, "orders": [{**body, "lines": [line]}]}
    yield {"consent": {"x" * 200: True}, "lines": [{}] * 600, "vouchers": ["V"] * 50}


@pytest.mark.django_db
def test_bad_values_in_every_api_body_and_query_never_answer_5xx(world, settings):  # noqa: F811
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    errors: list[str] = []
    sent = 0
    client = _client("key", world)
    for route, name in _routes():
        if not name.startswith("api:") or name in ("api:schema", "api:docs"):
            continue
        path = _path(route, name, world)
        for value in BAD_TEXT:
            sent += 1
            response = client.get(path, {q: value for q in QUERY})
            if response.status_code >= 500:
                errors.append(f"GET {path}?…={value[:20]!r}: {response.status_code}")
        for method in ("post", "patch"):
            raws = [json.dumps(b) for b in _api_bodies()] + [DEEP_JSON, '{"a":' * 3000, "\x00"]
            for raw in raws:
                sent += 1
                response = getattr(client, method)(
                    path,
                    raw,
                    content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY=re.sub(r"\W", "", raw)[:40] or "k",
                )
                if response.status_code >= 500:
                    errors.append(f"{method.upper()} {path} {raw[:80]!r}: {response.status_code}")
                elif response.status_code >= 400:
                    assert response["Content-Type"].startswith("application/json"), path
    print(f"fuzz API: {sent} requests")
    assert not errors, f"{len(errors)} answered 5xx:\n" + "\n".join(errors[:50])
