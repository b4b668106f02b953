"""The permission matrix: every URL pattern the resolver knows × every kind of actor × GET, POST,
PATCH and DELETE, compared with the table below. A URL without an entry in the table fails, so a
new page or endpoint cannot ship without a decision about who may use it.

Outcomes: ``allow`` (served: 2xx, a redirect other than to sign-in, or a 4xx about the input),
``login`` (sent to sign in), ``unauth`` (401), ``deny`` (403), ``notfound`` (404: fenced off),
``method`` (405). A 5xx always fails."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

ACTORS = [
    "anonymous",
    "member",
    "clerk_sh",
    "clerk_bj",
    "operator",
    "admin",
    "key",
    "key_sh",
    "key_bj",
]
METHODS = ["GET", "POST", "PATCH", "DELETE"]
STAFF = {"clerk_sh", "clerk_bj", "operator", "admin"}
KEYS = {"key", "key_sh", "key_bj"}


def _policy(*, allow=(), deny=(), login=(), unauth=(), notfound=(), method=()) -> dict[str, str]:
    out = {}
    for outcome, who in (
        ("allow", allow),
        ("deny", deny),
        ("login", login),
        ("unauth", unauth),
        ("notfound", notfound),
        ("method", method),
    ):
        for actor in who:
            out[actor] = outcome
    assert set(out) == set(ACTORS), sorted(set(ACTORS) - set(out))
    return out


EVERYONE = tuple(ACTORS)
NOT_SIGNED_IN = ("anonymous", *KEYS)  # keys are the API's; on a page a key is nobody
POLICIES = {
    "public": _policy(allow=EVERYONE),
    # Callbacks of a provider (the SMS gateway): its own Bearer token, nobody else's.
    "gateway": _policy(unauth=EVERYONE),
    # Sign-in flows: nobody signed in is sent to sign in, anyone signed in gets the page.
    "signin": _policy(login=NOT_SIGNED_IN, allow=("member", *STAFF)),
    "to_signin": _policy(login=EVERYONE),
    "password_reset": _policy(deny=("member",), allow=("anonymous", *STAFF, *KEYS)),
    "admin_logout_get": _policy(allow=tuple(a for a in ACTORS if a != "admin"), method=("admin",)),
    "console": _policy(
        login=NOT_SIGNED_IN, deny=("member", "clerk_sh", "clerk_bj"), allow=("operator", "admin")
    ),
    "console_admin": _policy(
        login=NOT_SIGNED_IN, deny=("member", "clerk_sh", "clerk_bj", "operator"), allow=("admin",)
    ),
    "counter": _policy(
        login=NOT_SIGNED_IN, deny=("member",), allow=("clerk_sh", "clerk_bj", "operator", "admin")
    ),
    # A page of store SH01: a clerk of another store is refused its counter.
    "counter_sh": _policy(
        login=NOT_SIGNED_IN, deny=("member", "clerk_bj"), allow=("clerk_sh", "operator", "admin")
    ),
    "portal": _policy(login=NOT_SIGNED_IN, allow=("member",), deny=tuple(STAFF)),
    "staff_account": _policy(
        login=NOT_SIGNED_IN, deny=("member",), allow=("clerk_sh", "clerk_bj", "operator", "admin")
    ),
    "api": _policy(
        unauth=("anonymous",),
        deny=("member", "clerk_sh", "clerk_bj"),
        allow=("operator", "admin", *KEYS),
    ),
    # Browsing (lists, points history, changes) of a member of SH01: a BJ01 key is refused.
    "api_browse_sh": _policy(
        unauth=("anonymous",),
        deny=("member", "clerk_sh", "clerk_bj", "key_bj"),
        allow=("operator", "admin", "key", "key_sh"),
    ),
    # The whole brand's (webhooks): a store-scoped key is refused.
    "api_brand": _policy(
        unauth=("anonymous",),
        deny=("member", "clerk_sh", "clerk_bj", "key_sh", "key_bj"),
        allow=("operator", "admin", "key"),
    ),
    # The same, for an id that names nothing: 404 once the actor may ask.
    "api_brand_missing": _policy(
        unauth=("anonymous",),
        deny=("member", "clerk_sh", "clerk_bj", "key_sh", "key_bj"),
        notfound=("operator", "admin", "key"),
    ),
    "admin_site": _policy(
        login=("anonymous", "member", "clerk_sh", "clerk_bj", "operator", *KEYS), allow=("admin",)
    ),
    # The admin may look at every model in Django's admin, change only the offers there.
    "admin_site_refused": _policy(
        login=("anonymous", "member", "clerk_sh", "clerk_bj", "operator", *KEYS), deny=("admin",)
    ),
    "admin_site_method": _policy(
        login=("anonymous", "member", "clerk_sh", "clerk_bj", "operator", *KEYS), method=("admin",)
    ),
    "admin_site_missing": _policy(
        login=("anonymous", "member", "clerk_sh", "clerk_bj", "operator", *KEYS),
        notfound=("admin",),
    ),
}
ADMIN_EDITABLE = {"members_product", "members_vouchertemplate", "members_reward"}

PAGES = ("GET", "POST")  # pages take GET and POST; PATCH and DELETE are 405 for everyone
# URL name -> (policy, or {method: policy}; the methods the view serves).
TABLE: dict[str, tuple[str | dict[str, str], tuple[str, ...]]] = {
    "home": ("signin", PAGES),
    "healthz": ("public", PAGES),
    "set_language": ("public", PAGES),
    "account_login": ("public", PAGES),
    "account_logout": ({"GET": "signin", "POST": "to_signin"}, PAGES),
    "account_inactive": ("public", ("GET",)),
    "account_request_login_code": ("public", PAGES),
    "account_confirm_login_code": ("signin", PAGES),
    "account_change_password": ("staff_account", PAGES),
    "account_reset_password": ("password_reset", PAGES),
    "account_reset_password_done": ("public", ("GET",)),
    "account_reset_password_from_key": ("public", PAGES),
    "account_reset_password_from_key_done": ("public", ("GET",)),
    "admin:login": ("public", PAGES),
    "admin:logout": ({"GET": "admin_logout_get", "POST": "public"}, PAGES),
    "console:home": ("console", PAGES),
    "console:settings": ("console", PAGES),
    "console:segments": ("console", PAGES),
    "campaigns:home": ("console", PAGES),
    "campaigns:list": ("console", PAGES),
    "campaigns:new": ("console", PAGES),
    "campaigns:detail": ("console", PAGES),
    "campaigns:edit": ("console", PAGES),
    "campaigns:dry_run": ("console", ("POST",)),
    "campaigns:launch": ("console", ("POST",)),
    "campaigns:cancel": ("console", ("POST",)),
    "campaigns:results": ("console", PAGES),
    "campaigns:results_refresh": ("console", ("POST",)),
    "campaigns:members": ("console", PAGES),
    "campaigns:days": ("console", PAGES),
    "campaigns:day_edit": ("console", PAGES),
    "api:campaign-list": ("api_brand", ("GET", "POST")),
    "api:campaign-detail": ("api_brand", ("GET",)),
    "api:campaign-launch": ("api_brand", ("POST",)),
    "api:campaign-cancel": ("api_brand", ("POST",)),
    "api:campaign-audience": ("api_brand", ("GET",)),
    "api:campaign-results": ("api_brand", ("GET",)),
    "community:home": ("console", PAGES),
    "accounts:store_list": ("console_admin", PAGES),
    "accounts:store_new": ("console_admin", PAGES),
    "accounts:store_edit": ("console_admin", PAGES),
    "accounts:staff_list": ("console_admin", PAGES),
    "accounts:staff_new": ("console_admin", PAGES),
    "accounts:staff_edit": ("console_admin", PAGES),
    "accounts:apikey_list": ("console_admin", PAGES),
    "accounts:apikey_revoke": ("console_admin", ("POST",)),
    "accounts:audit_list": ("console_admin", PAGES),
    "members:list": ("console", PAGES),
    "members:rules": ("console", PAGES),
    "members:handover": ("console", PAGES),
    "members:segment_list": ("console", PAGES),
    "members:segment_new": ("console", PAGES),
    "members:segment_count": ("console", PAGES),
    "members:segment_detail": ("console", PAGES),
    "members:segment_edit": ("console", PAGES),
    "members:segment_export": ("console", PAGES),
    "members:profile_fields": ("console", PAGES),
    "members:import_list": ("console", PAGES),
    "members:import_sample_orders": ("console", PAGES),
    "members:import_sample_members": ("console", PAGES),
    "members:import_detail": ("console", PAGES),
    "members:import_apply": ("console", ("POST",)),
    "members:import_errors": ("console", PAGES),
    "members:event_log": ("console_admin", PAGES),
    "members:detail": ("console", PAGES),
    "members:points": ("console", PAGES),
    "members:privacy_export": ("console_admin", PAGES),
    "members:privacy_erase": ("console_admin", PAGES),
    "offers:home": ("console", PAGES),
    "offers:template_list": ("console", PAGES),
    "offers:template_new": ("console", PAGES),
    "offers:template_edit": ("console", PAGES),
    "offers:template_issue": ("console", PAGES),
    "offers:reward_list": ("console", PAGES),
    "offers:reward_new": ("console", PAGES),
    "offers:reward_edit": ("console", PAGES),
    "offers:product_list": ("console", PAGES),
    "offers:product_import": ("console", PAGES),
    "offers:product_sample": ("console", PAGES),
    "offers:product_edit": ("console", PAGES),
    "counter:index": ("counter", PAGES),
    "counter:store": ("counter_sh", PAGES),
    "counter:search": ("counter_sh", PAGES),
    "counter:enrol": ("counter_sh", PAGES),
    "counter:products": ("counter_sh", PAGES),
    "counter:member": ("counter_sh", PAGES),
    "counter:member_profile": ("counter_sh", PAGES),
    "counter:purchase": ("counter_sh", PAGES),
    "counter:receipt": ("counter_sh", PAGES),
    "counter:gift_fulfil": ("counter_sh", PAGES),
    "counter:voucher_redeem": ("counter_sh", PAGES),
    "counter:note": ("counter_sh", PAGES),
    "portal:home": ("portal", PAGES),
    "portal:card": ("portal", PAGES),
    "portal:account": ("portal", PAGES),
    "portal:vouchers": ("portal", PAGES),
    "portal:points": ("portal", PAGES),
    "portal:rewards": ("portal", PAGES),
    "portal:tiers": ("portal", PAGES),
    "portal:profile": ("portal", PAGES),
    "portal:preferences": ("portal", PAGES),
    "portal:privacy": ("portal", PAGES),
    "messages:log": ("console", PAGES),
    "messages:detail": ("console", PAGES),
    "messages:member": ("console", PAGES),
    "messages:templates": ("console", PAGES),
    "messages:template_new": ("console", PAGES),
    "messages:template_preview": ("console", ("POST",)),
    "messages:template_edit": ("console", PAGES),
    "messages:settings": ("console", PAGES),
    # Every role that can own members keeps its own WeCom to-dos (clerks too).
    "messages:tasks": ("staff_account", PAGES),
    "inbox:list": ("portal", ("GET",)),
    "inbox:detail": ("portal", ("GET",)),
    "public:unsubscribe": ("public", PAGES),
    "public:sms_receipts": ("gateway", ("POST",)),
    "public:sms_inbound": ("gateway", ("POST",)),
    "api:schema": ("public", ("GET",)),
    "api:docs": ("public", ("GET",)),
    "api:member-list": ({"GET": "api", "POST": "api"}, ("GET", "POST")),
    "api:member-detail": ({"GET": "api", "PATCH": "api_browse_sh"}, ("GET", "PATCH")),
    "api:member-points": ("api_browse_sh", ("GET",)),
    "api:member-messages": ("api_browse_sh", ("GET",)),
    "api:member-redemptions": ("api", ("POST",)),
    "api:member-vouchers": ("api", ("GET",)),
    "api:order-create": ("api", ("POST",)),
    "api:order-batch": ("api", ("POST",)),
    "api:order-refunds": ("api_browse_sh", ("POST",)),
    "api:voucher-detail": ("api", ("GET",)),
    "api:voucher-redeem": ("api", ("POST",)),
    "api:tiers": ("api", ("GET",)),
    "api:webhook-list": ("api_brand", ("GET", "POST")),
    "api:webhook-detail": ("api_brand_missing", ("DELETE",)),
    "webhooks:list": ("console", PAGES),
    "webhooks:new": ("console", PAGES),
    "webhooks:detail": ("console", PAGES),
    "webhooks:delete": ("console", PAGES),  # a POST without the confirmation deletes nothing
    "webhooks:enable": ("console", ("POST",)),
    "webhooks:delivery": ("console", PAGES),
    "webhooks:delivery_retry": ("console", ("POST",)),
}


def _routes() -> list[tuple[str, str]]:
    out = []

    def walk(patterns, prefix, namespace):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace + (f"{p.namespace}:" if p.namespace else "")
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                out.append((prefix + str(p.pattern), namespace + (p.name or "")))

    walk(get_resolver().url_patterns, "", "")
    return out


def _entry(name: str, route: str = ""):
    if name in TABLE:
        return TABLE[name]
    if name == "admin:" and "(?P<url>" in route:
        return "admin_site_missing", ("GET", "POST")  # /admin/<anything else>/
    if name.startswith("admin:"):  # Django's admin decides itself: is_staff, for admins only
        return _admin_entry(name.removeprefix("admin:"))
    return None


def _admin_entry(name: str):
    both = ("GET", "POST")
    special = {
        # Without a field to complete: 403; GET only.
        "autocomplete": ({"GET": "admin_site_refused", "POST": "admin_site_method"}, both),
        "jsi18n": ("admin_site", ("GET",)),
        "password_change_done": ("admin_site", ("GET",)),
        "view_on_site": ("admin_site_missing", both),  # no object 1 of content type 1
        "auth_user_password_change": ("admin_site_refused", both),
        "password_change": ("admin_site", both),  # the admin's own password
    }
    if name in special:
        return special[name]
    model, _sep, action = name.rpartition("_")
    if model in ADMIN_EDITABLE or action in ("changelist", "history") or not model:
        return "admin_site", both
    if action in ("add", "delete"):
        return "admin_site_refused", both
    if action == "change":  # shown read-only; saving is refused
        return {"GET": "admin_site", "POST": "admin_site_refused"}, both
    return "admin_site", both


def test_every_url_pattern_has_an_entry():
    missing = sorted({name for route, name in _routes() if _entry(name, route) is None})
    assert missing == []


def test_the_table_names_no_url_that_is_gone():
    names = {name for _route, name in _routes()}
    assert sorted(set(TABLE) - names) == []


@pytest.fixture
def world(db, store_sh, store_bj, member, clerk_sh, clerk_bj, operator, admin_user, member_user):
    from decimal import Decimal

    from django.core.files.uploadedfile import SimpleUploadedFile

    from accounts.services import apikey_create
    from members.models import (
        GiftGrant,
        ImportJob,
        Order,
        Product,
        Reward,
        Segment,
        VoucherTemplate,
    )
    from members.services import voucher_issue
    from tests.factories import MemberFactory
    from tests.members.helpers import buy

    keys = {}
    for name, store in (("key", None), ("key_sh", store_sh), ("key_bj", store_bj)):
        keys[name] = apikey_create(name=name, store=store, actor=None)[1]
    spare, _plain = apikey_create(name="to revoke", actor=None)
    MemberFactory(store=store_bj, phone="+8613900139000", code="MBJ0001")
    buy(member, Decimal("100.00"), store=store_sh)
    order = Order.objects.filter(member=member).first()
    offer = VoucherTemplate.objects.get(code="cny50_over_300")
    voucher = voucher_issue(template=offer, member=member)
    gift = GiftGrant.objects.create(member=member, name_zh="礼", name_en="Gift")
    from django.utils import timezone

    from campaigns.models import Message, MessageTemplate

    note = Message.objects.create(  # the member's own, delivered to the portal inbox
        source_type="system",
        source_id="matrix",
        member=member,
        channel="portal",
        kind="service",
        text="hi",
        status="delivered",
        sent_at=timezone.now(),
    )
    from campaigns.models import WebhookDelivery
    from campaigns.services.webhooks import webhook_endpoint_create

    hook = webhook_endpoint_create(url="https://erp.example.com/in", types=["tier.changed"])
    hook_delivery = WebhookDelivery.objects.create(
        endpoint=hook, event_id=1, event_type="tier.changed", body="{}", status="failed"
    )
    segment = Segment.objects.create(name="s", definition={"match": "all", "groups": []})
    from campaigns.models import BrandDay, Campaign, CampaignMessage

    campaign = Campaign.objects.create(
        name="中秋", segment=segment, channels=["portal"], starts_at=timezone.now()
    )
    CampaignMessage.objects.create(campaign=campaign, channel="portal", body="{name}")
    brand_day = BrandDay.objects.create(name="会员日", date=timezone.localdate())
    job = ImportJob.objects.create(
        kind="orders", file=SimpleUploadedFile("a.csv", b"x"), filename="a.csv", status="invalid"
    )
    users = {
        "member": member_user,
        "clerk_sh": clerk_sh,
        "clerk_bj": clerk_bj,
        "operator": operator,
        "admin": admin_user,
    }
    pk_for = {
        "accounts:store_edit": store_sh.pk,
        "accounts:staff_edit": clerk_sh.pk,
        "accounts:apikey_revoke": spare.pk,
        "members:segment_detail": segment.pk,
        "members:segment_edit": segment.pk,
        "members:segment_export": segment.pk,
        "members:import_detail": job.pk,
        "members:import_apply": job.pk,
        "members:import_errors": job.pk,
        "counter:receipt": order.pk,
        "counter:gift_fulfil": gift.pk,
        "offers:template_edit": offer.pk,
        "offers:template_issue": offer.pk,
        "offers:reward_edit": Reward.objects.order_by("pk").first().pk,
        "offers:product_edit": Product.objects.order_by("pk").first().pk,
        "messages:detail": note.pk,
        "messages:template_edit": MessageTemplate.objects.order_by("pk").first().pk,
        "inbox:detail": note.pk,
        "webhooks:detail": hook.pk,
        "webhooks:delete": hook.pk,
        "webhooks:enable": hook.pk,
        "webhooks:delivery": hook_delivery.pk,
        "webhooks:delivery_retry": hook_delivery.pk,
        "api:webhook-detail": hook.pk + 1_000_000,  # no such endpoint
        **{
            name: campaign.pk
            for name in (
                "campaigns:detail",
                "campaigns:edit",
                "campaigns:dry_run",
                "campaigns:launch",
                "campaigns:cancel",
                "campaigns:results",
                "campaigns:results_refresh",
                "campaigns:members",
                "api:campaign-detail",
                "api:campaign-launch",
                "api:campaign-cancel",
                "api:campaign-audience",
                "api:campaign-results",
            )
        },
        "campaigns:day_edit": brand_day.pk,
    }
    from django.contrib import admin

    from members.models import AttributeDefinition, Tag

    AttributeDefinition.objects.create(key="favourite", label="Favourite", kind="text")
    Tag.objects.create(name="VIP-friend")
    admin_pk = {
        model._meta.model_name: (model.objects.order_by("pk").values_list("pk", flat=True).first())
        or 1
        for model in admin.site._registry
    }
    return {
        "admin_pk": admin_pk,
        "keys": keys,
        "users": users,
        "pk_for": pk_for,
        "member": member,
        "order": order,
        "voucher": voucher,
        "store": store_sh,
    }


def _path(route: str, name: str, w: dict) -> str:
    path = "/" + route.replace("^", "").replace("$", "")
    code = w["voucher"].code if name.startswith("api:voucher") else w["member"].code
    path = re.sub(r"\(\?P<uidb36>[^)]*\)-\(\?P<key>[^)]*\)", "2-set-password", path)
    path = path.replace("(?P<url>.*)", "nowhere/")
    path = path.replace("<str:store_code>", w["store"].code).replace("<str:code>", code)
    path = path.replace("<int:order_id>", str(w["order"].pk))
    path = path.replace("<int:pk>", str(w["pk_for"].get(name, 1)))
    path = re.sub(r"\(\?P<app_label>[^)]*\)", "members", path)
    path = path.replace("<path:content_type_id>", "1")
    if name.startswith("admin:"):  # an object that exists, of the model the admin URL is about
        parts = route.split("/")
        model = parts[2] if len(parts) > 2 else ""
        path = path.replace("<path:object_id>", str(w["admin_pk"].get(model, 1)))
        path = path.replace("<id>", str(w["admin_pk"].get("user", 1)))
    return path


def _client(actor: str, w: dict) -> Client:
    if actor in KEYS:
        return Client(HTTP_AUTHORIZATION=f"Bearer {w['keys'][actor]}")
    client = Client()
    if actor in w["users"]:
        client.force_login(w["users"][actor])
    return client


def _outcome(response) -> str:
    status = response.status_code
    if status >= 500:
        return "error"
    if status == 401:
        return "unauth"
    if status in (301, 302, 303):
        location = response["Location"]
        if "/accounts/login/" in location or "/admin/login/" in location:
            return "login"
        return "allow"
    return {403: "deny", 404: "notfound", 405: "method"}.get(status, "allow")


def _expected(name: str, actor: str, method: str, route: str = "") -> str:
    policy, methods = _entry(name, route)
    if isinstance(policy, dict):
        policy = policy.get(method) or next(iter(policy.values()))
    who = POLICIES[policy][actor]
    if method in methods:
        return who
    if name.startswith("api:") and name not in ("api:schema", "api:docs"):
        # The API authenticates before it looks at the method; the store fence is the view's.
        who = POLICIES["api"][actor]
        return who if who != "allow" else "method"
    if method in ("PATCH", "DELETE"):
        return "method"  # refused at the door for every page
    return who if who != "allow" else "method"


@pytest.mark.django_db
def test_every_url_for_every_actor_and_method(world, settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    mismatches = []
    requests = 0
    started = time.monotonic()
    routes = _routes()
    for actor in ACTORS:
        client = _client(actor, world)
        for route, name in routes:
            path = _path(route, name, world)
            methods = ("GET", "POST") if name.startswith("admin:") else METHODS
            for method in methods:
                if name.startswith("account_") or "logout" in name:
                    client = _client(actor, world)  # sign-in pages may sign the client out
                call = getattr(client, method.lower())
                kwargs = {"content_type": "application/json"} if name.startswith("api:") else {}
                data = "{}" if kwargs and method in ("POST", "PATCH") else {}
                try:
                    response = call(path, data, **kwargs) if method != "GET" else call(path)
                except Exception as exc:  # the test client re-raises a view's exception
                    mismatches.append(f"{actor} {method} {path}: raised {type(exc).__name__}")
                    continue
                requests += 1
                got, want = _outcome(response), _expected(name, actor, method, route)
                if got != want:
                    mismatches.append(
                        f"{actor} {method} {path} ({name}): {got} ({response.status_code}),"
                        f" expected {want}"
                    )
                if name.startswith("account_") or "logout" in name:
                    client = _client(actor, world)
    seconds = time.monotonic() - started
    print(
        f"permission matrix: {len(routes)} patterns x {len(ACTORS)} actors:"
        f" {requests} requests in {seconds:.0f} s"
    )
    assert not mismatches, f"{len(mismatches)} mismatches:\n" + "\n".join(mismatches)
