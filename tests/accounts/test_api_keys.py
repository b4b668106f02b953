from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from accounts.models import ApiKey, AuditEntry
from accounts.services import apikey_create, apikey_revoke


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.mark.django_db
def test_keys_are_stored_hashed_and_shown_once():
    key, plain = apikey_create(name="POS", actor=None)
    assert plain.startswith(f"scrm_{key.prefix}_")
    assert key.key_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in str(ApiKey.objects.values().get())
    assert AuditEntry.objects.filter(action="apikey.created", target_id=str(key.pk)).exists()


@pytest.mark.django_db
def test_apikey_create_command_prints_the_key_alone_on_its_last_line(store_sh):
    out, err = StringIO(), StringIO()
    call_command(
        "apikey_create", "--name", "POS Shanghai", "--store", "sh01", stdout=out, stderr=err
    )
    last = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get()
    assert last.startswith(f"scrm_{key.prefix}_") and " " not in last
    assert key.store == store_sh and key.name == "POS Shanghai"
    response = Client().get("/api/v1/members/", **bearer(last))
    assert response.status_code == 200


@pytest.mark.django_db
def test_apikey_create_command_names_an_unknown_store():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="Unknown store"):
        call_command("apikey_create", "--name", "x", "--store", "NOPE", stdout=StringIO())
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_api_requires_a_valid_key_and_revocation_takes_effect(member):
    client = Client()
    no_key = client.get("/api/v1/members/")
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "not_authenticated"
    assert client.get("/api/v1/members/", **bearer("scrm_nope_nope")).status_code == 401
    key, plain = apikey_create(name="POS", actor=None)
    ok = client.get(f"/api/v1/members/{member.code}/", **bearer(plain))
    assert ok.status_code == 200 and ok.json()["phone"] == "+8613800138000"
    apikey_revoke(key=key, actor=None)
    revoked = client.get(f"/api/v1/members/{member.code}/", **bearer(plain))
    assert revoked.status_code == 401
    assert set(revoked.json()["error"]) == {"code", "message", "fields"}


@pytest.mark.django_db
def test_a_wrong_secret_with_a_real_prefix_is_refused():
    _key, plain = apikey_create(name="POS", actor=None)
    forged = plain[:-4] + ("AAAA" if not plain.endswith("AAAA") else "BBBB")
    assert Client().get("/api/v1/members/", **bearer(forged)).status_code == 401


@pytest.mark.django_db
def test_store_scoped_key_enrols_into_its_store_and_may_not_name_another(store_sh, store_bj):
    _key, plain = apikey_create(name="POS SH", store=store_sh, actor=None)
    client = Client()
    created = client.post(
        "/api/v1/members/",
        {"phone": "13911112222"},
        content_type="application/json",
        **bearer(plain),
    )
    assert created.status_code == 201 and created.json()["store"] == "SH01"
    other = client.post(
        "/api/v1/members/",
        {"phone": "13911113333", "store": "BJ01"},
        content_type="application/json",
        **bearer(plain),
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_each_key_has_its_own_rate_limit_with_retry_after(member):
    _slow, slow_plain = apikey_create(name="slow", rate_per_minute=3, actor=None)
    _fast, fast_plain = apikey_create(name="fast", actor=None)
    client = Client()
    codes = [client.get("/api/v1/members/", **bearer(slow_plain)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get("/api/v1/members/", **bearer(slow_plain))
    assert int(limited["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "rate_limited"
    assert client.get("/api/v1/members/", **bearer(fast_plain)).status_code == 200


@pytest.mark.django_db
@override_settings(SCRM_API_DEFAULT_RATE_PER_MINUTE=2)
def test_the_default_rate_applies_to_keys_without_their_own():
    _key, plain = apikey_create(name="default", actor=None)
    client = Client()
    assert [client.get("/api/v1/members/", **bearer(plain)).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


@pytest.mark.django_db
def test_admin_creates_a_key_in_the_console_sees_it_once_and_revokes_it(admin_client):
    page = admin_client.post("/console/settings/api-keys/", {"name": "Tmall shop"}, follow=True)
    assert page.redirect_chain == [("/console/settings/api-keys/", 302)]  # post/redirect/get
    html = page.content.decode()
    key = ApiKey.objects.get()
    plain = html.split("data-new-key>")[1].split("<")[0]
    assert plain.startswith(f"scrm_{key.prefix}_")
    refreshed = admin_client.get("/console/settings/api-keys/").content.decode()
    assert plain not in refreshed and ApiKey.objects.count() == 1  # a refresh makes no key
    assert Client().get("/api/v1/members/", **bearer(plain)).status_code == 200
    admin_client.post(f"/console/settings/api-keys/{key.pk}/revoke/")
    assert Client().get("/api/v1/members/", **bearer(plain)).status_code == 401


@pytest.mark.django_db
def test_key_form_names_the_missing_field(admin_client):
    page = admin_client.post("/console/settings/api-keys/", {"name": ""})
    assert page.status_code == 200
    assert not ApiKey.objects.exists()
    assert 'href="#id_name"' in page.content.decode()
