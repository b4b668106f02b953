from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import sms
from accounts.models import AuditEntry, User
from members.models import Member

REQUEST = "/accounts/login/code/"
CONFIRM = "/accounts/login/code/confirm/"


def _client(lang: str) -> Client:
    client = Client()
    client.cookies["django_language"] = lang
    return client


def _last_code() -> str:
    return re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)


@pytest.mark.django_db
def test_member_signs_in_with_phone_and_sms_code_and_gets_a_portal_login(member):
    assert member.user is None
    client = _client("en")
    response = client.post(REQUEST, {"phone": "138 0013 8000"})
    assert response.status_code == 302 and response["Location"].startswith(CONFIRM)
    assert [m.to for m in sms.outbox] == ["+8613800138000"]
    assert "sign-in code" in sms.outbox[0].text

    response = client.post(CONFIRM, {"code": _last_code()})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.user is not None and member.user.kind == User.Kind.MEMBER
    assert client.get("/").url == "/portal/"
    page = client.get("/portal/")
    assert page.status_code == 200
    assert member.code in page.content.decode()
    assert AuditEntry.objects.filter(action="auth.signed_in", actor=member.user).exists()


@pytest.mark.django_db
def test_the_code_sms_is_in_the_members_language(member):
    _client("zh-hans").post(REQUEST, {"phone": "13800138000"})
    assert "登录验证码" in sms.outbox[-1].text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "wait_message"),
    [("en", "Wait a minute before asking for another"), ("zh-hans", "请 1 分钟后再获取")],
)
def test_asking_for_a_code_twice_in_a_row_is_told_to_wait(member, lang, wait_message):
    client = _client(lang)
    assert client.post(REQUEST, {"phone": "13800138000"}).status_code == 302
    again = _client(lang).post(REQUEST, {"phone": "+86 138 0013 8000"})
    assert again.status_code == 200
    assert wait_message in again.content.decode()
    assert len(sms.outbox) == 1  # no second SMS


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("lang", "locked"), [("en", "Try again in 15 minutes"), ("zh-hans", "请 15 分钟后再试")]
)
def test_five_wrong_codes_lock_further_tries(member, lang, locked, time_machine):
    client = _client(lang)
    client.post(REQUEST, {"phone": "13800138000"})
    right = _last_code()
    wrong = "000000" if right != "000000" else "111111"
    for attempt in range(4):
        response = client.post(CONFIRM, {"code": wrong})
        assert response.status_code == 200, attempt
    fifth = client.post(CONFIRM, {"code": wrong})
    assert fifth.status_code == 302 and fifth["Location"] == REQUEST
    # The right code no longer works: the pending sign-in is gone.
    assert client.post(CONFIRM, {"code": right}).status_code == 302
    assert "_auth_user_id" not in client.session

    # Asking for a new code, even after the per-minute limit has passed, is refused for a while.
    time_machine.move_to(timezone.now() + timedelta(seconds=120), tick=True)
    response = _client(lang).post(REQUEST, {"phone": "13800138000"})
    assert response.status_code == 200
    assert locked in response.content.decode()
    assert len(sms.outbox) == 1
    assert AuditEntry.objects.filter(action="auth.code_locked").count() == 1


@pytest.mark.django_db
def test_unknown_numbers_are_not_revealed_but_get_a_polite_sms(db):
    client = _client("en")
    response = client.post(REQUEST, {"phone": "13911112222"})
    assert response.status_code == 302  # same as a known number: no enumeration
    assert "no membership uses it" in sms.outbox[-1].text
    assert not Member.objects.exists() and not User.objects.filter(phone="+8613911112222").exists()


@pytest.mark.django_db
def test_an_invalid_phone_is_named_in_the_form(db):
    response = _client("zh-hans").post(REQUEST, {"phone": "12345"})
    assert response.status_code == 200
    assert "手机号应为 11 位数字" in response.content.decode()


@pytest.mark.django_db
def test_staff_sign_in_with_email_and_password_lands_in_their_shell(operator, clerk_sh, password):
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "operator@example.com", "password": password}
    )
    assert response.status_code == 302
    assert client.get("/").url == "/console/"
    client = Client()
    client.post("/accounts/login/", {"login": "clerk.sh@example.com", "password": password})
    assert client.get("/").url == "/counter/"
    assert client.get("/counter/").url == "/counter/SH01/"


@pytest.mark.django_db
def test_repeated_wrong_passwords_are_rate_limited(operator, password):
    client = Client()
    for _ in range(5):
        client.post(
            "/accounts/login/", {"login": "operator@example.com", "password": "wrong-password-x"}
        )
    response = client.post(
        "/accounts/login/", {"login": "operator@example.com", "password": password}
    )
    assert response.status_code == 200  # even the right password waits
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="auth.sign_in_failed").count() >= 5


@pytest.mark.django_db
def test_staff_cannot_use_the_member_code_sign_in(operator):
    # Staff have no phone: a code request for any number never reaches a staff account.
    client = _client("en")
    client.post(REQUEST, {"phone": "13800138000"})
    assert not sms.outbox or "no membership" in sms.outbox[-1].text


@pytest.mark.django_db
def test_signup_is_not_served(client):
    assert client.get("/accounts/signup/").status_code == 404
