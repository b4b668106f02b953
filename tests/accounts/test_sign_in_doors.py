"""Sign-in that cannot be raced or spread out, and no self-service door nobody designed: every
/accounts/ URL walked as anonymous, member and staff."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts import codes, sms
from tests.factories import MemberFactory

REQUEST = "/accounts/login/code/"
CONFIRM = "/accounts/login/code/confirm/"


def _code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)


def _wrong(right: str) -> str:
    return "000000" if right != "000000" else "111111"


@pytest.fixture
def counted(monkeypatch):
    """How many guesses were compared with the code, from any thread."""
    import accounts.forms

    seen = {"n": 0}
    lock = threading.Lock()
    real = accounts.forms.compare_user_code

    def counting(**kw):
        with lock:
            seen["n"] += 1
        return real(**kw)

    monkeypatch.setattr(accounts.forms, "compare_user_code", counting)
    return seen


@pytest.mark.django_db(transaction=True)
def test_60_parallel_guesses_with_one_session_are_5_compared_then_the_phone_is_locked(
    counted, store_sh
):
    MemberFactory(store=store_sh, phone="+8613800138000")
    first = Client()
    assert first.post(REQUEST, {"phone": "13800138000"}).status_code == 302
    right = _code()
    cookie = first.cookies["sessionid"].value
    barrier = threading.Barrier(60)
    statuses: list[int] = []

    def guess(i: int) -> None:
        client = Client()
        client.cookies["sessionid"] = cookie
        try:
            barrier.wait()
            statuses.append(client.post(CONFIRM, {"code": _wrong(right)}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counted["n"] <= codes.PER_CODE
    assert codes.phone_locked("+8613800138000")
    after = Client()
    after.cookies["sessionid"] = cookie
    after.post(CONFIRM, {"code": right})
    assert "_auth_user_id" not in after.session  # the right code no longer signs in
    asked = Client().post(REQUEST, {"phone": "13800138000"})
    assert "Try again in 15 minutes" in asked.content.decode() or "15 分钟" in (
        asked.content.decode()
    )


@pytest.mark.django_db
def test_new_codes_every_minute_give_at_most_10_guesses_an_hour(member, time_machine, counted):
    """Asking for a new code (in a new session) every minute used to reset the count: now a phone
    gets 10 guesses an hour across its codes, then is locked."""
    for _round in range(3):
        time_machine.move_to(timezone.now() + timedelta(minutes=2))
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.cookies["django_language"] = "en"
        response = client.post(REQUEST, {"phone": "13800138000"})
        if response.status_code != 302:
            break
        right = _code()
        for _ in range(4):  # never the 5th on one code
            client.post(CONFIRM, {"code": _wrong(right)})
    assert counted["n"] == codes.PER_PHONE  # the 11th and 12th were not compared
    assert codes.phone_locked(member.phone)
    page = client.post(REQUEST, {"phone": "13800138000"})
    assert "Try again in 15 minutes" in page.content.decode()


@pytest.mark.django_db
def test_one_address_gets_at_most_50_guesses_an_hour_across_phones(counted):
    for n in range(60):
        assert codes.guess_refused(phone=f"+86139{n:08d}", ip="10.0.0.9") in (None, "ip")
    assert codes.guess_refused(phone="+8613900000099", ip="10.0.0.9") == "ip"
    assert codes.guess_refused(phone="+8613900000099", ip="10.0.0.10") is None


@pytest.mark.django_db
def test_full_width_digits_are_the_same_code(member):
    client = Client()
    client.post(REQUEST, {"phone": "13800138000"})
    right = _code()
    wide = "".join(chr(0xFF10 + int(d)) for d in right)
    client.post(CONFIRM, {"code": wide})
    assert "_auth_user_id" in client.session


def _accounts_urls() -> list[tuple[str, str]]:
    out = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                out.append((prefix + str(p.pattern), p.name))

    walk(get_resolver().url_patterns, "")
    return [(r, n) for r, n in out if r.startswith("accounts/")]


# Every sign-in URL and what each kind of user gets on GET: the whole list, so a URL added without
# a decision here fails.
ACCOUNTS = {
    "account_login": {"anonymous": 200, "member": 302, "staff": 302},
    "account_logout": {"anonymous": 302, "member": 200, "staff": 200},
    "account_inactive": {"anonymous": 200, "member": 200, "staff": 200},
    "account_request_login_code": {"anonymous": 200, "member": 302, "staff": 302},
    "account_confirm_login_code": {"anonymous": 302, "member": 302, "staff": 302},
    "account_change_password": {"anonymous": 302, "member": 403, "staff": 200},
    "account_reset_password": {"anonymous": 200, "member": 403, "staff": 200},
    "account_reset_password_done": {"anonymous": 200, "member": 200, "staff": 200},
    "account_reset_password_from_key": {"anonymous": 200, "member": 200, "staff": 200},
    "account_reset_password_from_key_done": {"anonymous": 200, "member": 200, "staff": 200},
}


def test_every_accounts_url_has_a_decision():
    names = {name for _route, name in _accounts_urls()}
    assert names == set(ACCOUNTS)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "name"), _accounts_urls())
def test_every_accounts_url_as_anonymous_member_and_staff(
    route, name, member_client, operator_client
):
    path = "/" + route.replace("^", "").replace("$", "")
    path = re.sub(r"\(\?P<uidb36>[^)]*\)-\(\?P<key>[^)]*\)", "2-set-password", path)
    for who, client in (
        ("anonymous", Client()),
        ("member", member_client),
        ("staff", operator_client),
    ):
        response = client.get(path)
        assert response.status_code == ACCOUNTS[name][who], (who, path)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/accounts/signup/",
        "/accounts/email/",
        "/accounts/phone/change/",
        "/accounts/phone/verify/",
        "/accounts/password/set/",
        "/accounts/reauthenticate/",
        "/accounts/confirm-email/",
    ],
)
def test_the_doors_nobody_designed_are_not_served(path, member_client, operator_client):
    for client in (Client(), member_client, operator_client):
        assert client.get(path).status_code == 404
        assert (
            client.post(path, {"phone": "13900001111", "email": "x@example.com"}).status_code == 404
        )


@pytest.mark.django_db
def test_a_member_with_a_password_cannot_use_the_staff_form(member_user, password):
    member_user.email = "member@example.com"
    member_user.set_password(password)
    member_user.save()
    client = Client()
    client.post("/accounts/login/", {"login": "member@example.com", "password": password})
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_reset_mails_staff_only_and_never_answers_500(operator, member_user, settings):
    member_user.email = "member@example.com"
    member_user.save()
    client = Client()
    for address in ("nobody@example.com", "member@example.com"):
        response = client.post("/accounts/password/reset/", {"email": address})
        assert response.status_code == 302
    assert mail.outbox == []
    client.post("/accounts/password/reset/", {"email": operator.email})
    assert len(mail.outbox) == 1 and operator.email in mail.outbox[0].to
    link = re.search(r"/accounts/password/reset/key/\S+/", mail.outbox[0].body).group(0)
    new = "a-new-long-staff-password-9"
    page = client.get(link, follow=True)
    assert page.status_code == 200
    client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else link,
        {"password1": new, "password2": new},
    )
    operator.refresh_from_db()
    assert operator.check_password(new)


@pytest.mark.django_db
def test_a_mail_server_that_fails_is_a_message_not_a_500(operator, settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
        }
    }
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.cookies["django_language"] = "en"
    response = client.post("/accounts/password/reset/", {"email": operator.email}, follow=True)
    assert response.status_code == 200
    assert "could not be sent" in response.content.decode()


@pytest.mark.django_db
def test_without_a_mail_server_the_reset_page_says_an_admin_resets(settings):
    settings.SCRM_EMAIL_CONFIGURED = False
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get("/accounts/password/reset/")
    assert page.status_code == 200 and "Ask an admin" in page.content.decode()


@pytest.mark.django_db
def test_a_member_signing_out_lands_on_the_portal_sign_in_and_staff_on_theirs(
    member_client, operator_client
):
    r = member_client.post("/accounts/logout/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/code/"
    r = operator_client.post("/accounts/logout/")
    assert r.status_code == 302 and r["Location"] == "/accounts/login/"
