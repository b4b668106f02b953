"""Headers every response carries: the Content-Security-Policy on every page (and templates that
need nothing it refuses), and ``Cache-Control: private, no-store`` on what shows personal data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _assert_strict(response) -> None:
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert "'self'" in policy[directive]
        assert "'unsafe-inline'" not in policy[directive], directive
        assert "'unsafe-eval'" not in policy[directive], directive
        assert not any(v.startswith(("http:", "https:", "*")) for v in policy[directive])
    assert set(policy["img-src"]) <= {"'self'", "data:"}


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.django_db
def test_every_shell_carries_a_strict_content_security_policy(
    admin_user, clerk_sh, member_user, store_sh
):
    pages = [
        (admin_user, "/console/"),
        (admin_user, f"/console/members/{member_user.member.code}/"),
        (clerk_sh, f"/counter/{store_sh.code}/"),
        (clerk_sh, f"/counter/{store_sh.code}/members/{member_user.member.code}/"),
        (member_user, "/portal/"),
        (None, "/accounts/login/"),
        (None, "/accounts/login/code/"),
        (admin_user, "/admin/"),
        (admin_user, "/admin/members/member/"),
        (None, "/api/v1/docs/"),
        (None, "/no/such/page/"),
    ]
    for user, path in pages:
        response = _client(user).get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        _assert_strict(response)


@pytest.mark.django_db
def test_htmx_is_configured_to_run_under_the_policy(member_client):
    """htmx 2 would otherwise inject an inline <style> (refused) and may evaluate code."""
    html = member_client.get("/portal/").content.decode()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert meta, "no htmx-config meta tag"
    import json

    config = json.loads(meta.group(1))
    assert config["allowEval"] is False
    assert config["includeIndicatorStyles"] is False


def test_the_500_page_carries_no_inline_style():
    from django.test import RequestFactory

    from scrm.views import error_500

    html = error_500(RequestFactory().get("/")).content.decode()
    assert "<style" not in html and "style=" not in html


# What the policy refuses (or what would need eval), as it appears in a template.
FORBIDDEN = {
    "inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I),
    "<style> block": re.compile(r"<style\b", re.I),
    "style attribute": re.compile(r"\sstyle\s*=", re.I),
    "on* handler attribute": re.compile(r"\son[a-z]+\s*=", re.I),
    "hx-on attribute": re.compile(r"\b(?:data-)?hx-on", re.I),
    "hx-vars attribute": re.compile(r"\b(?:data-)?hx-vars\b", re.I),
    "js: in hx-vals": re.compile(r"hx-vals\s*=\s*['\"]\s*(?:js|javascript):", re.I),
    "javascript: URL": re.compile(r"javascript:", re.I),
    "hx-trigger filter (eval)": re.compile(r"hx-trigger\s*=\s*['\"][^'\"]*\[", re.I),
}


def _template_files() -> list[Path]:
    files = sorted(TEMPLATES.rglob("*.html"))
    assert len(files) > 40, "the templates folder moved?"
    return files


def test_no_template_needs_inline_script_or_style():
    found = []
    for path in _template_files():
        text = path.read_text()
        text = re.sub(r"\{#.*?#\}", "", text)  # template comments render nothing
        text = re.sub(r"\{% comment %\}.*?\{% endcomment %\}", "", text, flags=re.S)
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}: {match.group(0)!r}")
    assert not found, "refused by the Content-Security-Policy:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<a href="#" onclick="go()">x</a>',
        '<div style="color:red">x</div>',
        '<button hx-on:click="go()">x</button>',
        '<a href="javascript:go()">x</a>',
        "<style>a{}</style>",
        "<input hx-trigger=\"keyup[key=='Enter']\">",
    ],
)
def test_the_template_scan_catches(snippet):
    assert any(p.search(snippet) for p in FORBIDDEN.values())


def test_the_template_scan_allows_external_scripts():
    ok = '<script src="{% static \'js/app.js\' %}" defer></script><form action="/x" method="post">'
    assert not any(p.search(ok) for p in FORBIDDEN.values())


# --- Cache-Control -----------------------------------------------------------------------------


def _private(response) -> bool:
    parts = {p.strip() for p in response.headers.get("Cache-Control", "").split(",")}
    return {"private", "no-store"} <= parts


@pytest.mark.django_db
def test_pages_with_personal_data_are_never_stored(
    admin_client, clerk_client, member_client, member, store_sh
):
    from accounts.services import apikey_create
    from members.models import Segment

    segment = Segment.objects.create(
        name="all", definition={"match": "all", "groups": []}, for_marketing=False
    )
    _key, plain = apikey_create(name="POS", actor=None)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    responses = {
        "member 360": admin_client.get(f"/console/members/{member.code}/"),
        "member list": admin_client.get("/console/members/?q=林"),
        "counter card": clerk_client.get(f"/counter/{store_sh.code}/members/{member.code}/"),
        "counter search (htmx)": clerk_client.get(
            f"/counter/{store_sh.code}/search/?q=林晓", HTTP_HX_REQUEST="true"
        ),
        "portal home": member_client.get("/portal/"),
        "portal account": member_client.get("/portal/account/"),
        "API member read": api.get(f"/api/v1/members/{member.code}/"),
        "API refusal": Client().get(f"/api/v1/members/{member.code}/"),
        "segment export (CSV)": admin_client.get(
            f"/console/members/segments/{segment.pk}/export.csv"
        ),
        "privacy export": admin_client.post(f"/console/members/{member.code}/privacy/export/"),
        "admin": admin_client.get(f"/admin/members/member/{member.pk}/change/"),
    }
    for name, response in responses.items():
        assert response.status_code in (200, 401), (name, response.status_code)
        assert _private(response), f"{name}: Cache-Control {response.get('Cache-Control')!r}"


@pytest.mark.django_db
def test_static_files_and_anonymous_pages_may_be_cached(settings, admin_user):
    settings.WHITENOISE_USE_FINDERS = True  # WhiteNoise serves the source folders, as in the demo
    admin_client = _client(admin_user)
    static = Client().get("/static/css/app.css")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("Cache-Control", "")
    # Signed in, static files are still not personal.
    assert "no-store" not in admin_client.get("/static/js/app.js").headers.get("Cache-Control", "")
    # Nothing personal outside the shells for an anonymous visitor: left as the view set it
    # (allauth's sign-in pages say never_cache themselves).
    anonymous = Client().get("/no/such/page/")
    assert anonymous.status_code == 404 and "Cache-Control" not in anonymous.headers
    # The same page for a signed-in user may name them (the staff menu): not stored.
    assert _private(admin_client.get("/no/such/page/"))
