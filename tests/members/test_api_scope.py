"""Store scope on the API, decided by members.selectors.scope: a store-scoped key browses and changes
its store's members, and serves a member of the brand who buys in its store (found by an exact
code or phone, shown masked); clerks use the counter, not the API."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import apikey_create
from members.models import Member
from members.services import points_adjust
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(store_sh, store_bj):
    def client(store=None) -> Client:
        _key, plain = apikey_create(name=f"k-{store}", store=store, actor=None)
        return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")

    return {"sh": client(store_sh), "bj": client(store_bj), "all": client()}


@pytest.fixture
def two(store_sh, store_bj):
    sh = MemberFactory(store=store_sh, phone="+8613800138000", name="林晓雨", code="MSH0001")
    bj = MemberFactory(store=store_bj, phone="+8613900139000", name="王小明", code="MBJ0001")
    return sh, bj


def test_a_store_key_lists_only_its_stores_members(keys, two):
    listed = keys["sh"].get("/api/v1/members/").json()
    assert [m["code"] for m in listed["results"]] == ["MSH0001"]
    assert listed["count"] == 1
    everyone = keys["all"].get("/api/v1/members/").json()
    assert {m["code"] for m in everyone["results"]} == {"MSH0001", "MBJ0001"}


def test_a_store_key_finds_another_stores_member_by_exact_phone_masked(keys, two):
    found = keys["sh"].get("/api/v1/members/", {"phone": "13900139000"}).json()["results"]
    assert [(m["code"], m["phone"], m["name"]) for m in found] == [
        ("MBJ0001", "139****9000", "王*明")
    ]
    own = keys["sh"].get("/api/v1/members/", {"phone": "13800138000"}).json()["results"]
    assert own[0]["phone"] == "+8613800138000"


def test_a_store_key_serves_the_brand_and_changes_only_its_own(keys, two):
    sh, bj = two
    card = keys["sh"].get(f"/api/v1/members/{bj.code}/").json()
    assert card["phone"] == "139****9000" and card["name"] == "王*明"
    assert card["points_balance"] == 0
    refused = keys["sh"].patch(
        f"/api/v1/members/{bj.code}/", {"name": "Hacked"}, content_type="application/json"
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert Member.objects.get(pk=bj.pk).name == "王小明"
    changed = keys["sh"].patch(
        f"/api/v1/members/{sh.code}/", {"name": "林晓"}, content_type="application/json"
    )
    assert changed.status_code == 200
    assert keys["sh"].get(f"/api/v1/members/{bj.code}/points/").status_code == 403
    assert keys["bj"].get(f"/api/v1/members/{bj.code}/points/").status_code == 200


def test_a_store_key_redeems_a_visiting_members_points_in_its_store(keys, two):
    _sh, bj = two
    points_adjust(member=bj, points=500, reason="opening", actor=None)
    r = keys["sh"].post(
        f"/api/v1/members/{bj.code}/points/redemptions/",
        {"points": 100, "reason": "counter gift"},
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="visit-1",
    )
    assert r.status_code == 201
    assert Member.objects.get(pk=bj.pk).points_balance == 400


def test_clerks_use_the_counter_not_the_api(clerk_sh, two):
    client = Client()
    client.force_login(clerk_sh)
    for path in ("/api/v1/members/", f"/api/v1/members/{two[1].code}/", "/api/v1/tiers/"):
        r = client.get(path, HTTP_ACCEPT_LANGUAGE="en")
        assert r.status_code == 403 and "counter" in r.json()["error"]["message"]


def test_operators_browse_the_whole_brand_through_the_api(operator_client, two):
    r = operator_client.get(f"/api/v1/members/{two[1].code}/")
    assert r.status_code == 200 and r.json()["phone"] == "+8613900139000"
