from __future__ import annotations

import pytest

from accounts import roles
from accounts.models import AuditEntry, Store, User


@pytest.mark.django_db
def test_admin_adds_a_store_and_bad_codes_are_named(admin_client):
    bad = admin_client.post(
        "/console/settings/stores/new/",
        {"code": "上海", "name": "x", "city": "上海", "time_zone": "Asia/Shanghai"},
    )
    assert bad.status_code == 200 and 'href="#id_code"' in bad.content.decode()
    assert not Store.objects.exists()
    ok = admin_client.post(
        "/console/settings/stores/new/",
        {
            "code": "cd01",
            "name": "成都太古里店",
            "city": "成都",
            "time_zone": "Asia/Shanghai",
            "is_active": "on",
        },
    )
    assert ok.status_code == 302
    assert Store.objects.get().code == "CD01"
    assert AuditEntry.objects.filter(action="store.created").count() == 1


@pytest.mark.django_db
def test_duplicate_store_code_is_refused(admin_client, store_sh):
    page = admin_client.post(
        "/console/settings/stores/new/",
        {"code": "SH01", "name": "x", "city": "y", "time_zone": "Asia/Shanghai"},
    )
    assert page.status_code == 200
    assert Store.objects.count() == 1


@pytest.mark.django_db
def test_unknown_time_zone_is_refused(admin_client):
    page = admin_client.post(
        "/console/settings/stores/new/",
        {"code": "X1", "name": "x", "city": "y", "time_zone": "Mars/Base"},
    )
    assert page.status_code == 200 and not Store.objects.exists()


@pytest.mark.django_db
def test_admin_creates_a_clerk_for_two_stores(admin_client, store_sh, store_bj):
    response = admin_client.post(
        "/console/settings/staff/new/",
        {
            "email": "New.Clerk@Example.com",
            "name": "新店员",
            "role": roles.CLERK,
            "stores": [store_sh.pk, store_bj.pk],
            "is_active": "on",
            "password": "a-long-enough-pass",
        },
    )
    assert response.status_code == 302
    clerk = User.objects.get(email="new.clerk@example.com")
    assert clerk.role == roles.CLERK
    assert set(clerk.stores.values_list("code", flat=True)) == {"SH01", "BJ01"}
    entry = AuditEntry.objects.get(action="staff.created", target_id=str(clerk.pk))
    assert entry.after["stores"] == ["BJ01", "SH01"] and "password" not in entry.after


@pytest.mark.django_db
def test_missing_store_and_short_password_are_named(admin_client, store_sh):
    admin_client.cookies["django_language"] = "en"
    data = {
        "email": "c@example.com",
        "name": "c",
        "role": roles.CLERK,
        "is_active": "on",
        "password": "a-long-enough-pass",
    }
    no_store = admin_client.post("/console/settings/staff/new/", data)
    assert no_store.status_code == 200
    assert "A clerk must belong to at least one store." in no_store.content.decode()
    short = admin_client.post(
        "/console/settings/staff/new/", {**data, "stores": [store_sh.pk], "password": "short"}
    )
    assert short.status_code == 200
    assert "too short" in short.content.decode()
    assert not User.objects.filter(email="c@example.com").exists()


@pytest.mark.django_db
def test_deactivated_staff_cannot_sign_in(admin_client, clerk_sh, password, client):
    admin_client.post(
        f"/console/settings/staff/{clerk_sh.pk}/",
        {
            "email": clerk_sh.email,
            "name": clerk_sh.name,
            "role": roles.CLERK,
            "stores": [clerk_sh.stores.get().pk],
        },
    )
    clerk_sh.refresh_from_db()
    assert not clerk_sh.is_active
    client.post("/accounts/login/", {"login": clerk_sh.email, "password": password})
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_staff_list_filters_by_role_and_store(admin_client, clerk_sh, clerk_bj, operator):
    html = admin_client.get(
        "/console/settings/staff/", {"role": "clerk", "store": "BJ01"}
    ).content.decode()
    assert clerk_bj.email in html and clerk_sh.email not in html and operator.email not in html
