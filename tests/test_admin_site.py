"""Django's admin (/admin/), as the README promises it: for admins, every model of accounts and
members to look at (the audit log among them), the offers (products, voucher templates, rewards) to
change. Signed in with the admin *role* (not a superuser), every page opens and every link works."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts import roles

pytestmark = pytest.mark.django_db

PROMISED = {
    "accounts.user",
    "accounts.store",
    "accounts.apikey",
    "accounts.auditentry",
    "members.member",
    "members.product",
    "members.vouchertemplate",
    "members.reward",
    "members.voucher",
    "members.order",
    "members.pointsentry",
    "members.tier",
}


@pytest.fixture
def objects(admin_user, member, store_sh):
    """At least one row of every model the admin site shows."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.services import apikey_create
    from members.models import (
        AttributeDefinition,
        GiftGrant,
        ImportJob,
        Product,
        Segment,
        Tag,
        VoucherTemplate,
    )
    from members.services import voucher_issue
    from tests.members.helpers import buy

    apikey_create(name="POS", store=store_sh, actor=None)
    Product.objects.get_or_create(sku="SKU-1", defaults={"name": "Tea", "price": Decimal("9.00")})
    buy(member, Decimal("100.00"), store=store_sh)
    voucher_issue(template=VoucherTemplate.objects.get(code="cny50_over_300"), member=member)
    GiftGrant.objects.create(member=member, name_zh="礼", name_en="Gift")
    Segment.objects.create(name="s", definition={"match": "all", "groups": []})
    ImportJob.objects.create(
        kind="orders", file=SimpleUploadedFile("a.csv", b"x"), filename="a.csv", status="invalid"
    )
    AttributeDefinition.objects.create(key="favourite", label="Favourite", kind="text")
    Tag.objects.create(name="VIP-friend")


def _get(client, url):
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return response


def test_the_admin_role_is_not_a_superuser(admin_user):
    assert admin_user.groups.filter(name=roles.ADMIN).exists()
    assert admin_user.is_staff and not admin_user.is_superuser


def test_the_promised_models_are_on_the_admin_index(admin_client):
    html = _get(admin_client, "/admin/").content.decode()
    for label in PROMISED:
        app_label, model = label.split(".")
        url = reverse(f"admin:{app_label}_{model}_changelist")
        assert f'href="{url}"' in html, f"{label} is not on the admin index"
    for label in roles.ADMIN_SITE_EDITABLE:
        app_label, model = label.split(".")
        assert f'href="{reverse(f"admin:{app_label}_{model}_add")}"' in html, label


def test_every_changelist_and_change_page_opens(admin_client, objects):
    registered = {m._meta.label_lower: m for m in admin.site._registry}
    assert set(registered) >= PROMISED
    for label, model in sorted(registered.items()):
        app_label, name = label.split(".")
        changelist = _get(admin_client, reverse(f"admin:{app_label}_{name}_changelist"))
        assert changelist.context["cl"].result_count >= 1, f"{label}: no row to open"
        obj = model._default_manager.order_by("pk").first()
        change = _get(admin_client, reverse(f"admin:{app_label}_{name}_change", args=[obj.pk]))
        assert "errornote" not in change.content.decode(), label
        history = reverse(f"admin:{app_label}_{name}_history", args=[obj.pk])
        _get(admin_client, history)
    for label in roles.ADMIN_SITE_EDITABLE:
        app_label, name = label.split(".")
        _get(admin_client, reverse(f"admin:{app_label}_{name}_add"))


def _admin_links(html: str) -> set[str]:
    links = set(re.findall(r'href="(/admin/[^"#?]*)', html))
    return {link for link in links if "/logout/" not in link}


def test_every_admin_link_the_admin_is_shown_resolves(admin_client, objects):
    """Whatever the console and the admin index link to under /admin/ opens for the admin."""
    pages = ["/console/", reverse("console:settings"), "/admin/"]
    pages += [reverse("admin:app_list", args=[app]) for app in roles.ADMIN_SITE_APPS]
    links: set[str] = set()
    for page in pages:
        links |= _admin_links(_get(admin_client, page).content.decode())
    assert len(links) > len(PROMISED)
    for link in sorted(links):
        response = admin_client.get(link)
        assert response.status_code == 200, f"{link}: {response.status_code}"
