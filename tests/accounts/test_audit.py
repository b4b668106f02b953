from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts.models import AuditEntry
from accounts.services import audit_record, store_save


@pytest.mark.django_db
def test_store_changes_record_before_and_after_with_actor_and_ip(
    admin_client, admin_user, store_sh
):
    response = admin_client.post(
        f"/console/settings/stores/{store_sh.pk}/",
        {
            "code": "SH01",
            "name": "上海新天地店",
            "city": "上海",
            "time_zone": "Asia/Shanghai",
            "is_active": "on",
        },
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="store.updated")
    assert entry.actor == admin_user
    assert entry.before["name"] == "上海静安店" and entry.after["name"] == "上海新天地店"
    assert entry.ip == "10.1.2.3"
    assert ("name", "上海静安店", "上海新天地店") in entry.changed_fields


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_through_the_orm(admin_user):
    from django.core.exceptions import ValidationError

    entry = audit_record(actor=admin_user, action="test.thing")
    entry.action = "tampered"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


@pytest.mark.django_db
def test_the_database_refuses_updates_and_deletes_of_audit_rows(admin_user):
    assert connection.vendor == "postgresql"
    audit_record(actor=admin_user, action="test.thing")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(action="test.thing").count() == 1


@pytest.mark.django_db
def test_admin_filters_the_audit_log(admin_client, admin_user):
    store_save(data={"code": "HZ01", "name": "杭州店", "city": "杭州"}, actor=admin_user)
    audit_record(actor=None, action="member.enrolled", target_label="张三")
    page = admin_client.get("/console/audit/", {"action": "store."})
    html = page.content.decode()
    assert "杭州店" in html and "张三" not in html
    page = admin_client.get("/console/audit/", {"q": "张三"})
    assert "张三" in page.content.decode() and "杭州店" not in page.content.decode()
    partial = admin_client.get("/console/audit/", {"q": "张三"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "张三" in partial.content.decode()


@pytest.mark.django_db
def test_bad_audit_filter_dates_are_named_not_a_500(admin_client):
    page = admin_client.get("/console/audit/", {"date_from": "not-a-date"})
    assert page.status_code == 200
    assert 'href="#id_date_from"' in page.content.decode()


@pytest.mark.django_db
def test_the_audit_log_shows_mappings_lists_and_yes_no_as_people_read_them(admin_client):
    from django.utils import translation

    audit_record(
        actor=None,
        action="member.handover",
        before={"by_owner": {}, "sms": False},
        after={"by_owner": {"李娜": 1, "王芳": 2}, "sms": True, "stores": ["SH01", "BJ01"]},
    )
    entry = AuditEntry.objects.get(action="member.handover")
    with translation.override("zh-hans"):
        fields = {k: (str(old), str(new)) for k, old, new in entry.changed_fields}
    assert fields["by_owner"] == ("—", "李娜: 1, 王芳: 2")
    assert fields["sms"] == ("否", "是") and fields["stores"][1] == "SH01, BJ01"
    html = admin_client.get("/console/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "{&#x27;" not in html.content.decode() and "李娜: 1" in html.content.decode()
