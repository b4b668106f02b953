from __future__ import annotations

import threading

import pytest
from django.db import connection

from accounts.models import AuditEntry, User
from accounts.services import apikey_create
from members.models import Member
from members.selectors import member_search
from members.services import member_enrol, member_portal_user
from scrm.exceptions import ApplicationError
from tests.factories import MemberFactory


@pytest.mark.django_db
def test_enrol_normalises_the_phone_and_finds_the_same_member_again(store_sh):
    first, created = member_enrol(phone="138 0013 8000", name="林晓雨", store=store_sh)
    again, created_again = member_enrol(phone="+8613800138000", name="someone else")
    assert created and not created_again
    assert again.pk == first.pk and again.name == "林晓雨"
    assert first.phone == "+8613800138000" and first.phone_last4 == "8000"
    assert first.code.startswith("M") and len(first.code) == 7
    assert AuditEntry.objects.filter(action="member.enrolled").count() == 1


@pytest.mark.django_db
def test_enrol_names_a_bad_phone():
    with pytest.raises(ApplicationError) as exc:
        member_enrol(phone="12345")
    assert "phone" in exc.value.fields
    assert not Member.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_enrolment_of_one_phone_makes_one_member(store_sh):
    assert connection.vendor == "postgresql"
    results, errors = [], []
    barrier = threading.Barrier(8)

    def enrol():
        try:
            barrier.wait()
            results.append(member_enrol(phone="13900001111", store=store_sh))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=enrol) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Member.objects.count() == 1
    assert sum(created for _m, created in results) == 1
    assert {m.pk for m, _c in results} == {Member.objects.get().pk}


@pytest.mark.django_db
def test_first_sign_in_attaches_one_portal_login(member):
    user = member_portal_user(member.phone)
    assert user is not None and user.kind == User.Kind.MEMBER and user.phone == member.phone
    assert member_portal_user(member.phone) == user
    member.refresh_from_db()
    assert member.user == user
    assert member_portal_user("+8613999999999") is None


@pytest.mark.django_db
def test_one_box_search_infers_the_kind_of_look_up(store_sh):
    a = MemberFactory(phone="+8613800138000", name="林晓雨", code="MABC234", store=store_sh)
    b = MemberFactory(phone="+8613900008000", name="张伟", code="MXYZ789", store=store_sh)
    qs = Member.objects.all()
    found, kind = member_search(qs=qs, q="138 0013 8000")
    assert kind == "phone" and list(found) == [a]
    found, kind = member_search(qs=qs, q="8000")
    assert kind == "last4" and set(found) == {a, b}
    found, kind = member_search(qs=qs, q="mxyz")
    assert kind == "code" and list(found) == [b]
    found, kind = member_search(qs=qs, q="晓雨")
    assert kind == "name" and list(found) == [a]


@pytest.mark.django_db
def test_counter_search_masks_phones_except_an_exact_look_up(clerk_client, store_sh, store_bj):
    MemberFactory(phone="+8613800138000", name="林晓雨", store=store_sh)
    MemberFactory(phone="+8613700008000", name="张伟", store=store_bj)
    html = clerk_client.get(
        "/counter/SH01/search/", {"q": "8000"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "138****8000" in html and "林*" in html
    assert "13800138000" not in html
    assert "张" not in html  # another store's member is not listed
    # An exact number opens the card at once, with that number in full.
    r = clerk_client.get("/counter/SH01/search/", {"q": "13800138000"}, HTTP_HX_REQUEST="true")
    exact = clerk_client.get(r["HX-Redirect"]).content.decode()
    assert "13800138000" in exact and "林晓雨" in exact
    other = clerk_client.get(r["HX-Redirect"].split("?")[0] + "?phone=13800138001")
    assert "13800138000" not in other.content.decode()  # a guessed number reveals nothing
    assert AuditEntry.objects.filter(action="counter.lookup").count() == 2
    assert AuditEntry.objects.filter(action="counter.card_opened").count() == 2


@pytest.mark.django_db
def test_operator_member_list_searches_and_paginates(operator_client, store_sh):
    for i in range(30):
        MemberFactory(phone=f"+861390000{i:04d}", name=f"会员{i}", store=store_sh)
    page1 = operator_client.get("/console/members/").content.decode()
    assert "30" in page1 and "?page=2" in page1
    one = operator_client.get(
        "/console/members/", {"q": "会员7"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "会员7" in one and "会员8" not in one and "<html" not in one


@pytest.mark.django_db
def test_api_enrols_and_looks_up_members_in_the_error_shape(store_sh):
    _key, plain = apikey_create(name="POS", actor=None)
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    created = client.post(
        "/api/v1/members/",
        {"phone": "+86 139 1234 5678", "name": "张伟", "store": "SH01"},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["phone"] == "+8613912345678" and body["store"] == "SH01"
    assert (
        client.post(
            "/api/v1/members/", {"phone": "13912345678"}, content_type="application/json"
        ).status_code
        == 200
    )
    found = client.get("/api/v1/members/", {"phone": "13912345678"}).json()
    assert found["count"] == 1 and found["results"][0]["code"] == body["code"]
    assert client.get(f"/api/v1/members/{body['code'].lower()}/").status_code == 200
    missing = client.get("/api/v1/members/MNOPE99/")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({}, "phone"),
        ({"phone": "13912345678", "store": "NOPE"}, "store"),
        ({"phone": "13912345678", "channel": "fax"}, "channel"),
        ({"phone": "1" * 500}, "phone"),
        ({"phone": ["13912345678"]}, "phone"),
    ],
)
def test_api_names_the_bad_field(payload, field):
    _key, plain = apikey_create(name="POS", actor=None)
    from django.test import Client

    response = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").post(
        "/api/v1/members/", payload, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert not Member.objects.exists()


@pytest.mark.django_db
def test_api_malformed_json_is_a_400_in_the_error_shape():
    _key, plain = apikey_create(name="POS", actor=None)
    from django.test import Client

    response = Client(HTTP_AUTHORIZATION=f"Bearer {plain}").generic(
        "POST", "/api/v1/members/", b"{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/v1/schema/")
    assert schema.status_code == 200 and b"/api/v1/members/" in schema.content
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200 and b"cdn" not in docs.content.lower()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "birthday": ""}, "name"),
        ({"name": "林晓雨", "birthday": "2999-01-01"}, "birthday"),
        ({"name": "林晓雨", "birthday": "1850-01-01"}, "birthday"),
    ],
)
def test_an_empty_name_or_a_birthday_in_the_future_is_refused_everywhere(
    operator_client, member_client, member, data, field
):
    from members.models import Member

    before = Member.objects.get(pk=member.pk)
    r = operator_client.post(
        f"/console/members/{member.code}/", {"section": "details", "email": "", **data}
    )
    assert field in r.context["details_form"].errors
    r = member_client.post("/portal/profile/", {"section": "details", "email": "", **data})
    assert field in r.context["forms"]["details"].errors
    from django.test import Client

    from accounts.services import apikey_create

    _key, plain = apikey_create(name="k", actor=None)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    body = {k: (v or None) if k == "birthday" else v for k, v in data.items()}
    r = api.patch(f"/api/v1/members/{member.code}/", body, content_type="application/json")
    assert r.status_code == 400 and field in r.json()["error"]["fields"]
    after = Member.objects.get(pk=member.pk)
    assert (after.name, after.birthday) == (before.name, before.birthday)


@pytest.mark.django_db
def test_a_refused_api_patch_changes_nothing_not_even_consent(member):
    from django.test import Client

    from accounts.services import apikey_create
    from members.models import ConsentRecord, Member

    Member.objects.filter(pk=member.pk).update(consent_sms=True, name="林晓雨")
    _key, plain = apikey_create(name="k", actor=None)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {plain}")
    r = api.patch(
        f"/api/v1/members/{member.code}/",
        {"name": "", "consent": {"sms": False}},
        content_type="application/json",
    )
    assert r.status_code == 400 and "name" in r.json()["error"]["fields"]
    assert Member.objects.get(pk=member.pk).consent_sms is True
    assert not ConsentRecord.objects.filter(member=member, channel="sms").exists()


@pytest.mark.django_db
def test_a_member_enrolled_without_a_name_stays_editable(operator_client, store_sh):
    from tests.factories import MemberFactory

    nameless = MemberFactory(store=store_sh, name="")
    r = operator_client.post(
        f"/console/members/{nameless.code}/",
        {"section": "details", "name": "", "email": "x@example.com", "birthday": ""},
    )
    assert r.status_code == 302
    nameless.refresh_from_db()
    assert nameless.email == "x@example.com"
