"""The campaigns API (API.md, *Campaigns*): create, launch (409 campaign_not_draft the second
time), cancel, read, audience by group, results; keys with a store scope are refused."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import apikey_create
from campaigns.models import Campaign, CampaignMember
from members.models import Member, Segment

pytestmark = pytest.mark.django_db


def _client(store=None) -> Client:
    _key, plain = apikey_create(name=f"k-{store}", store=store, actor=None)
    return Client(HTTP_AUTHORIZATION=f"Bearer {plain}")


def _members(n: int) -> list[str]:
    Member.objects.bulk_create(
        [
            Member(
                code=f"MA{i:05d}",
                phone=f"+86134{i:08d}",
                phone_last4=f"{i:04d}",
                consent_portal=True,
            )
            for i in range(n)
        ]
    )
    return [f"MA{i:05d}" for i in range(n)]


BODY = {
    "name": "Mid-Autumn refill",
    "kind": "value",
    "holdout_percent": 20,
    "channels": ["portal"],
    "message": {"portal": "{name}, your mask refill is ready"},
    "offer": None,
    "starts_at": "2026-09-20T10:00:00+08:00",
    "conversion_window_days": 14,
}


def test_create_launch_read_audience_results_and_cancel():
    codes = _members(40)
    segment = Segment.objects.create(name="all", definition={"match": "all", "groups": []})
    api = _client()
    r = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"segment": segment.pk}},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    c = r.json()
    assert (
        c["status"] == "draft"
        and c["holdout_percent"] == 20
        and c["audience"] == {"segment": segment.pk}
    )
    r = api.post(f"/api/v1/campaigns/{c['id']}/launch/")
    assert r.status_code == 200 and r.json()["status"] == "running"
    assert (r.json()["treatment_count"], r.json()["holdout_count"]) == (32, 8)
    again = api.post(f"/api/v1/campaigns/{c['id']}/launch/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "campaign_not_draft"
    got = api.get(f"/api/v1/campaigns/{c['id']}/").json()
    assert got["audience_count"] == 40
    held = api.get(f"/api/v1/campaigns/{c['id']}/audience/?group=holdout").json()
    assert held["count"] == 8 and {row["group"] for row in held["results"]} == {"holdout"}
    assert all(row["message_status"] is None for row in held["results"])
    treated = api.get(f"/api/v1/campaigns/{c['id']}/audience/?group=treatment").json()
    assert treated["count"] == 32 and {row["message_status"] for row in treated["results"]} == {
        "queued"
    }
    assert {row["member"] for row in treated["results"]} <= set(codes)
    assert api.get(f"/api/v1/campaigns/{c['id']}/audience/?group=nobody").status_code == 400
    results = api.get(f"/api/v1/campaigns/{c['id']}/results/").json()
    assert results["window_days"] == 14
    assert results["treatment"]["members"] == 32 and results["holdout"]["members"] == 8
    assert set(results["lift"]) >= {
        "absolute",
        "ci95",
        "relative",
        "incremental_orders",
        "incremental_revenue",
    }
    r = api.post(f"/api/v1/campaigns/{c['id']}/cancel/")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert api.post(f"/api/v1/campaigns/{c['id']}/cancel/").status_code == 409


def test_a_static_list_names_unknown_codes_and_a_replay_creates_once():
    codes = _members(5)
    api = _client()
    r = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"members": [*codes, "M404NOPE"]}},
        content_type="application/json",
    )
    assert r.status_code == 400 and "M404NOPE" in r.json()["error"]["fields"]["audience.members"][0]
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-1"}
    first = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"members": codes}},
        content_type="application/json",
        **headers,
    )
    second = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"members": codes}},
        content_type="application/json",
        **headers,
    )
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["id"] == second.json()["id"] and Campaign.objects.count() == 1
    launched = api.post(
        f"/api/v1/campaigns/{first.json()['id']}/launch/", HTTP_IDEMPOTENCY_KEY="go-1"
    )
    replay = api.post(
        f"/api/v1/campaigns/{first.json()['id']}/launch/", HTTP_IDEMPOTENCY_KEY="go-1"
    )
    assert launched.status_code == 200 and replay.status_code == 200
    assert CampaignMember.objects.count() == 5


def test_a_store_scoped_key_is_refused(store_sh):
    api = _client(store_sh)
    assert api.get("/api/v1/campaigns/").status_code == 403
    r = api.post(
        "/api/v1/campaigns/", {**BODY, "audience": {"segment": 1}}, content_type="application/json"
    )
    assert r.status_code == 403
    assert not Campaign.objects.exists()


def test_bad_input_is_a_400_naming_the_field():
    api = _client()
    r = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"segment": 999}, "holdout_percent": 80, "channels": ["fax"]},
        content_type="application/json",
    )
    assert r.status_code == 400
    fields = r.json()["error"]["fields"]
    assert "holdout_percent" in fields and "channels[0]" in fields
    r = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"segment": 999}},
        content_type="application/json",
    )
    assert r.status_code == 400 and "audience.segment" in r.json()["error"]["fields"]
    r = api.post(
        "/api/v1/campaigns/",
        {**BODY, "audience": {"members": []}, "message": {"portal": ""}},
        content_type="application/json",
    )
    assert r.status_code == 400
    assert api.get("/api/v1/campaigns/999/results/").status_code == 404
