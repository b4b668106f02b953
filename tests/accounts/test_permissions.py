"""Every staff URL refuses anonymous users and members; counter URLs refuse clerks of other stores."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import ApiKey

SAMPLE_ARGS = {"pk": "{pk}", "section": "segments", "store_code": "{store}", "code": "{member}"}


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def staff_urls():
    urls = []
    for route, _pattern in _walk(get_resolver().url_patterns):
        if not route.startswith(("console/", "counter/")):
            continue
        path = "/" + route.replace("^", "").replace("$", "")
        path = path.replace("(?P<section>segments|campaigns|community)", "segments")
        for name, value in SAMPLE_ARGS.items():
            path = path.replace(f"<int:{name}>", value).replace(f"<str:{name}>", value)
        urls.append(path)
    return sorted(set(urls))


STAFF_URLS = staff_urls()


def test_the_walk_found_the_staff_pages():
    assert "/console/" in STAFF_URLS
    assert "/counter/{store}/" in STAFF_URLS
    assert "/console/audit/" in STAFF_URLS
    assert len(STAFF_URLS) >= 14


@pytest.fixture
def fill(store_sh, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.services import apikey_create
    from members.models import ImportJob
    from tests.factories import MemberFactory

    key, _ = apikey_create(name="POS", actor=None)
    member = MemberFactory(store=store_sh)
    job = ImportJob.objects.create(
        kind="orders", file=SimpleUploadedFile("a.csv", b"x"), filename="a.csv", status="invalid"
    )
    from members.models import Segment

    segment = Segment.objects.create(name="s", definition={"match": "all", "groups": []})
    from members.models import Product, Reward, VoucherTemplate

    offers = {
        "/offers/vouchers/": VoucherTemplate.objects.order_by("pk").first().pk,
        "/offers/rewards/": Reward.objects.order_by("pk").first().pk,
        "/offers/products/": Product.objects.get_or_create(sku="P-1", defaults={"name": "P"})[0].pk,
    }
    from campaigns.models import Message, MessageTemplate, WebhookDelivery, WebhookEndpoint

    message = Message.objects.create(
        member=member,
        channel="portal",
        kind="service",
        text="t",
        source_type="system",
        source_id="perm-1",
    )
    endpoint = WebhookEndpoint.objects.create(
        url="https://erp.example.com/hook", types=["order.ingested"], secret="s" * 64
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id=1, event_type="order.ingested", body="{}"
    )
    from django.utils import timezone

    from campaigns.models import BrandDay, Campaign, CampaignMessage

    campaign = Campaign.objects.create(
        name="中秋", segment=segment, channels=["portal"], starts_at=timezone.now()
    )
    CampaignMessage.objects.create(campaign=campaign, channel="portal", body="{name}")
    brand_day = BrandDay.objects.create(name="会员日", date=timezone.localdate())
    offers.update(
        {
            "/campaigns/days/": brand_day.pk,
            "/campaigns/": campaign.pk,
            "/messages/templates/": MessageTemplate.objects.order_by("pk").first().pk,
            "/messages/": message.pk,
            "/webhooks/deliveries/": delivery.pk,
            "/webhooks/": endpoint.pk,
        }
    )
    ids = {"pk": str(key.pk), "store": store_sh.code}

    def _fill(url: str) -> str:
        # {pk} is valid for every detail route we sample: a store, a staff member, a key, an import.
        url = url.replace("{store}", ids["store"]).replace("{member}", member.code)
        if "/imports/" in url:
            return url.replace("{pk}", str(job.pk))
        if "/segments/" in url:
            return url.replace("{pk}", str(segment.pk))
        if "/stores/" in url:
            return url.replace("{pk}", str(store_sh.pk))
        if "/staff/" in url:
            return url.replace("{pk}", str(admin_user.pk))
        for prefix, pk in offers.items():
            if prefix in url:
                return url.replace("{pk}", str(pk))
        return url.replace("{pk}", ids["pk"])

    return _fill


@pytest.mark.django_db
@pytest.mark.parametrize("url", STAFF_URLS)
def test_anonymous_users_are_sent_to_sign_in(client, fill, url):
    response = client.get(fill(url))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
@pytest.mark.parametrize("url", STAFF_URLS)
def test_members_are_refused_every_staff_url(member_client, fill, url):
    response = member_client.get(fill(url))
    assert response.status_code == 403


POST_ONLY = (
    "/revoke/",
    "/apply/",
    "/enable/",
    "/retry/",
    "/templates/preview/",
    "/dry-run/",
    "/launch/",
    "/cancel/",
    "/refresh/",
)

# A staff member's own to-do list (WeCom messages handed to them to send) is for every staff
# role, clerks included; every other console page is the operators'.
OWN_PAGES = {"/console/messages/tasks/"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", [u for u in STAFF_URLS if u.startswith("/console/") and u not in OWN_PAGES]
)
def test_clerks_are_refused_the_console(clerk_client, fill, url):
    assert clerk_client.get(fill(url)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", sorted(OWN_PAGES))
def test_clerks_reach_their_own_pages_of_the_console(clerk_client, url):
    assert url in STAFF_URLS
    assert clerk_client.get(url).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("url", [u for u in STAFF_URLS if "{store}" in u])
def test_clerks_of_another_store_are_refused_its_counter(client, clerk_bj, store_sh, fill, url):
    client.force_login(clerk_bj)
    assert client.get(fill(url)).status_code == 403
    assert client.get(fill(url).replace(store_sh.code, "BJ01")).status_code in (200, 302)


ADMIN_ONLY = [
    u
    for u in STAFF_URLS
    if u.startswith(
        (
            "/console/settings/stores",
            "/console/settings/staff",
            "/console/settings/api-keys",
            "/console/audit",
        )
    )
    and "revoke" not in u
]


@pytest.mark.django_db
@pytest.mark.parametrize("url", ADMIN_ONLY)
def test_operators_are_refused_admin_settings(operator_client, fill, url):
    assert operator_client.get(fill(url)).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("url", [u for u in STAFF_URLS if not u.endswith(POST_ONLY)])
def test_admins_open_every_staff_page(admin_client, fill, url):
    assert admin_client.get(fill(url)).status_code in (200, 302)


@pytest.mark.django_db
def test_revoke_is_post_only_and_admin_only(operator_client, admin_client, fill):
    url = fill("/console/settings/api-keys/{pk}/revoke/")
    assert operator_client.post(url).status_code == 403
    assert admin_client.get(url).status_code == 405
    assert ApiKey.objects.get().revoked_at is None


@pytest.mark.django_db
def test_portal_refuses_staff_and_sends_anonymous_to_phone_sign_in(client, operator_client):
    assert operator_client.get("/portal/").status_code == 403
    response = client.get("/portal/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/code/")


@pytest.mark.django_db
def test_django_admin_is_for_admins_only(operator_client, admin_client):
    assert operator_client.get("/admin/").status_code == 302  # to admin login: not staff
    assert admin_client.get("/admin/").status_code == 200
