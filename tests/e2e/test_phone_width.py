"""Every page of the console, the counter and the portal fits a 375 px phone, in Chinese and in
English, with realistic data: long store names, a 2,000-character note without a space, children,
pets, vouchers, an import with errors, a segment with every kind of condition. Nothing may widen
the page sideways (a table scrolls inside its card), and no table cell may shrink to one character
a line. The same pages are checked at 1280 px. Screenshots of each go to tests/e2e/screenshots/."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from accounts import roles, sms
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import MemberFactory, StoreFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LANGS = ["zh-hans", "en"]
HTML_LANG = {"zh-hans": "zh-Hans", "en": "en"}
SHELLS = ("console/", "counter/", "portal/")

# GET routes of the three shells that are not pages to look at, and why. Every other route must be
# in ``PAGES`` below, so a new page cannot be left out of this test.
NOT_PAGES = {
    "members:segment_count": "POST only: the builder's live count (htmx)",
    "members:segment_export": "a CSV download",
    "members:import_sample_orders": "a CSV download",
    "members:import_sample_members": "a CSV download",
    "members:import_apply": "POST only",
    "members:import_errors": "a CSV download",
    "members:privacy_export": "POST only: a zip download",
    "members:privacy_erase": "POST only",
    "offers:product_sample": "a CSV download",
    "accounts:apikey_revoke": "POST only",
    "counter:search": "an htmx fragment of counter:store, visited there with ?q=",
    "counter:products": "an htmx fragment of counter:purchase",
    "counter:gift_fulfil": "POST only",
    "counter:voucher_redeem": "POST only",
    "counter:note": "POST only",
    "messages:template_preview": "POST only: the template editor's live preview (htmx)",
    "webhooks:enable": "POST only",
    "webhooks:delivery_retry": "POST only",
    "campaigns:dry_run": "POST only",
    "campaigns:launch": "POST only",
    "campaigns:cancel": "POST only",
    "campaigns:results_refresh": "POST only",
}

# Who looks at each page: (route name, path arguments taken from the world, query string).
PAGES: dict[str, list[tuple[str, tuple[str, ...], str]]] = {
    "admin": [
        ("console:settings", (), ""),
        ("accounts:store_list", (), ""),
        ("accounts:store_new", (), ""),
        ("accounts:store_edit", ("store_pk",), ""),
        ("accounts:staff_list", (), ""),
        ("accounts:staff_new", (), ""),
        ("accounts:staff_edit", ("clerk_pk",), ""),
        ("accounts:apikey_list", (), ""),
        ("accounts:audit_list", (), ""),
        ("members:event_log", (), ""),
    ],
    "operator": [
        ("console:home", (), ""),
        ("console:segments", (), ""),
        ("members:list", (), ""),
        ("members:rules", (), ""),
        ("members:handover", (), ""),
        ("members:segment_list", (), ""),
        ("members:segment_new", (), ""),
        ("members:segment_detail", ("listed_segment_pk",), ""),
        ("members:segment_edit", ("segment_pk",), ""),
        ("members:profile_fields", (), ""),
        ("members:import_list", (), ""),
        ("members:import_detail", ("job_pk",), ""),
        ("members:detail", ("code",), ""),
        ("members:points", ("code",), ""),
        ("webhooks:list", (), ""),
        ("webhooks:new", (), ""),
        ("webhooks:detail", ("webhook_pk",), ""),
        ("webhooks:detail", ("webhook_off_pk",), "?status=failed"),
        ("webhooks:delete", ("webhook_pk",), ""),
        ("webhooks:delivery", ("webhook_delivery_pk",), ""),
        ("offers:home", (), ""),
        ("offers:template_list", (), ""),
        ("offers:template_new", (), ""),
        ("offers:template_edit", ("template_pk",), ""),
        ("offers:template_issue", ("template_pk",), ""),
        ("offers:reward_list", (), ""),
        ("offers:reward_new", (), ""),
        ("offers:reward_edit", ("reward_pk",), ""),
        ("offers:product_list", (), ""),
        ("offers:product_import", (), ""),
        ("offers:product_edit", ("product_pk",), ""),
        ("campaigns:home", (), ""),
        ("campaigns:home", (), "?view=week"),
        ("campaigns:home", (), "?view=list&terms=1"),
        ("campaigns:list", (), ""),
        ("campaigns:new", (), "?occasion=中秋节&date=2027-09-15"),
        ("campaigns:detail", ("draft_campaign_pk",), ""),
        ("campaigns:edit", ("draft_campaign_pk",), ""),
        ("campaigns:detail", ("campaign_pk",), ""),
        ("campaigns:results", ("campaign_pk",), ""),
        ("campaigns:members", ("campaign_pk",), "?group=holdout"),
        ("campaigns:days", (), ""),
        ("campaigns:day_edit", ("brand_day_pk",), ""),
        ("messages:log", (), ""),
        ("messages:detail", ("message_pk",), ""),
        ("messages:member", ("code",), ""),
        ("messages:templates", (), ""),
        ("messages:template_new", (), ""),
        ("messages:template_edit", ("message_template_pk",), "?member=MDEMO23"),
        ("messages:settings", (), ""),
        ("community:home", (), ""),
    ],
    "clerk": [
        ("counter:index", (), ""),
        ("counter:store", ("store",), ""),
        ("counter:store", ("store",), "?q=8000"),
        ("counter:enrol", ("store",), ""),
        ("counter:member", ("store", "code"), ""),
        ("counter:member_profile", ("store", "code"), ""),
        ("counter:purchase", ("store", "code"), ""),
        ("counter:receipt", ("store", "code", "order_pk"), ""),
        ("messages:tasks", (), ""),
    ],
    "member": [
        ("portal:home", (), ""),
        ("portal:card", (), ""),
        ("portal:account", (), ""),
        ("portal:vouchers", (), ""),
        ("portal:points", (), ""),
        ("portal:rewards", (), ""),
        ("portal:tiers", (), ""),
        ("portal:profile", (), ""),
        ("portal:preferences", (), ""),
        ("portal:privacy", (), ""),
        ("inbox:list", (), ""),
        ("inbox:detail", ("inbox_pk",), ""),
    ],
}

LONG_STORE = "上海静安嘉里中心旗舰店（南京西路 1515 号 L2-15）"
LONG_NOTE = ("https://shop.example.com/orders/export?ids=" + "8123456790" * 200)[:2000]

# The page is no wider than the window; no table cell (or badge, chip, button) holds one character
# a line; culprits are named to make a failure readable.
MEASURE = """() => {
  const inner = window.innerWidth, scroll = document.documentElement.scrollWidth;
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim() ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const wide = [];
  if (scroll > inner + 1) {
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width && r.right > inner + 1 && !el.closest('.table-wrap')) wide.push(name(el) + ' ' + Math.round(r.right));
      if (wide.length > 6) break;
    }
  }
  const squeezed = [];
  for (const el of document.querySelectorAll('td, th, dd, .chip, .badge, .btn')) {
    const text = el.innerText.trim();
    if (text.length < 3 || !el.getClientRects().length) continue;
    const cs = getComputedStyle(el), fs = parseFloat(cs.fontSize);
    const lh = parseFloat(cs.lineHeight) || fs * 1.4;
    const r = el.getBoundingClientRect();
    const content = r.width - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    // The height of the text itself, not of the cell: a short number in a row made tall by
    // its neighbour is not squeezed; a word broken into a column of letters is.
    const range = document.createRange();
    range.selectNodeContents(el);
    const textHeight = range.getBoundingClientRect().height;
    if (content < fs * 2.5 && textHeight > lh * 2.5) squeezed.push(name(el) + ': ' + text.slice(0, 16));
  }
  return {inner, scroll, wide, squeezed};
}"""


def _shell_routes() -> dict[str, str]:
    """name -> route of every URL pattern of the console, counter and portal shells."""
    out: dict[str, str] = {}

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace + (f"{p.namespace}:" if p.namespace else "")
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and (prefix + str(p.pattern)).startswith(SHELLS):
                out[namespace + (p.name or "")] = prefix + str(p.pattern)

    walk(get_resolver().url_patterns, "", "")
    return out


def test_the_list_covers_every_page_of_the_console_counter_and_portal():
    visited = {name for pages in PAGES.values() for name, _args, _q in pages}
    routes = _shell_routes()
    assert sorted(set(routes) - visited - set(NOT_PAGES)) == [], "add the new page to PAGES"
    assert sorted((visited | set(NOT_PAGES)) - set(routes)) == [], "a page that is gone"
    assert not visited & set(NOT_PAGES)


@pytest.fixture
def world(db):
    from accounts.services import apikey_create
    from members.models import (
        AttributeDefinition,
        AttributeValue,
        Child,
        GiftGrant,
        ImportJob,
        Member,
        MemberTag,
        Note,
        Order,
        Pet,
        Product,
        Profile,
        Reward,
        Segment,
        Tag,
        VoucherTemplate,
    )
    from members.services import voucher_issue
    from members.services.points import points_adjust
    from tests.members.helpers import buy, days_ago

    sh = StoreFactory(code="SH01", name=LONG_STORE, city="上海")
    bj = StoreFactory(
        code="BJ01", name="北京朝阳大悦城购物中心店（朝阳北路 101 号 B1）", city="北京"
    )
    make_staff(roles.ADMIN, email="admin@example.com", name="陈静")
    operator = make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    clerk = make_staff(roles.CLERK, stores=[sh], email="clerk@example.com", name="王芳")
    apikey_create(name="天猫旗舰店订单同步（生产环境）", store=sh, actor=None)
    Product.objects.create(
        sku="SERUM-30ML-2026", name="玻尿酸修护精华液 30ml（限定礼盒装）", category="skincare"
    )
    Product.objects.create(
        sku="TOAST-1", name="全麦吐司", category="bakery", price=Decimal("18.50")
    )

    m = MemberFactory(
        phone="+8613800138000",
        name="欧阳晓雨",
        store=sh,
        code="MDEMO23",
        birthday=date(1990, timezone.localdate().month, 1),
        owner=clerk,
    )
    # Gold by spend: 800 + 1,000 + 1,500 in the window; the 1,500 leaves it in 65 days.
    buy(m, "1500.00", at=days_ago(300), store=sh)
    buy(m, "1000.00", at=days_ago(100), store=sh)
    buy(m, "800.00", at=days_ago(10), store=sh)
    points_adjust(
        member=m, points=15_208, reason="旧系统积分迁移（2019-2025 年累计）", actor=operator
    )
    Member.objects.filter(pk=m.pk).update(
        next_purchase_due=timezone.localdate() - timedelta(days=20),
        purchase_interval_days=45,
        price_sensitivity=Decimal("0.125"),
        rfm_r=2,
        rfm_f=4,
        rfm_m=5,
    )
    Note.objects.create(member=m, author=operator, body=LONG_NOTE)
    Note.objects.create(member=m, author=clerk, body="喜欢少糖，上次问过新款精华；对坚果过敏")
    Child.objects.create(
        member=m, name="小宝", birth_date=timezone.localdate() - timedelta(days=500)
    )
    Child.objects.create(member=m, name="", due_date=timezone.localdate() + timedelta(days=90))
    Pet.objects.create(member=m, name="豆豆", species="dog", vaccinations=["狂犬疫苗 2026-03"])
    Pet.objects.create(member=m, name="Mochi", species="cat")
    Profile.objects.create(member=m, likes="抹茶, 芒果, 少糖", allergies="坚果", skin_type="dry")
    tag = Tag.objects.create(name="高净值客户-长期复购")
    MemberTag.objects.create(member=m, tag=tag)
    attr = AttributeDefinition.objects.create(key="favourite_store", label="常去门店", kind="text")
    AttributeValue.objects.create(member=m, attribute=attr, text=LONG_STORE)
    for code in ("cny10", "cny50_over_300"):
        voucher_issue(template=VoucherTemplate.objects.get(code=code), member=m)
    GiftGrant.objects.create(
        member=m, name_zh="第 5 次消费礼：定制帆布袋", name_en="5th purchase gift"
    )
    for i in range(14):
        MemberFactory(
            phone=f"+8615000008{i:03d}",
            name=f"上官婉儿{i}号会员" if i % 2 else f"会员{i}",
            store=sh if i % 3 else bj,
            lifecycle_stage="dormant" if i % 2 else "repeat",
        )
    segment = Segment.objects.create(
        name="上海静安·幼儿期宝妈·90 天未复购·可短信触达",
        for_marketing=True,
        definition={
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "conditions": [
                        {"field": "child_stage", "op": "in", "value": ["toddler", "infant"]},
                        {"field": "store", "op": "in", "value": ["SH01", "BJ01"]},
                        {
                            "field": "bought_category",
                            "op": "in",
                            "value": {"category": "skincare", "days": 90, "min_count": 2},
                        },
                    ],
                },
                {
                    "match": "any",
                    "conditions": [{"field": "last_purchase", "op": "over", "value": 90}],
                },
            ],
        },
    )
    listed = Segment.objects.create(
        name="上海静安嘉里中心旗舰店的全部会员（含已流失）",
        for_marketing=False,
        definition={
            "match": "all",
            "groups": [
                {"match": "all", "conditions": [{"field": "store", "op": "in", "value": ["SH01"]}]}
            ],
        },
    )
    job = ImportJob.objects.create(
        kind="orders",
        file=SimpleUploadedFile("a.csv", b"x"),
        filename="2026年11月全渠道会员订单导出（含退款明细）_final_v3_已核对.csv",
        status="invalid",
        total_rows=12_480,
        error_rows=3,
        errors=[
            {"row": 2, "field": "member", "message": "手机号应为 11 位数字"},
            {"row": 17, "field": "placed_at", "message": "日期应为 2026-11-22 10:31 这样的格式"},
            {"row": 9_021, "field": "amount", "message": "金额应大于 0"},
        ],
        created_by=operator,
    )
    order = Order.objects.filter(member=m).latest("placed_at")
    messages = _messages_world(m, clerk)
    return {
        "store": "SH01",
        "code": m.code,
        "store_pk": str(sh.pk),
        "clerk_pk": str(clerk.pk),
        "segment_pk": str(segment.pk),
        "listed_segment_pk": str(listed.pk),
        "job_pk": str(job.pk),
        "order_pk": str(order.pk),
        "template_pk": str(VoucherTemplate.objects.get(code="cny10").pk),
        "reward_pk": str(Reward.objects.order_by("pk").first().pk),
        "product_pk": str(Product.objects.get(sku="SERUM-30ML-2026").pk),
        **messages,
        **_webhooks_world(operator),
        **_campaigns_world(operator, segment),
    }


def _campaigns_world(operator, segment) -> dict[str, str]:
    """A running campaign with its results, a draft with its dry run, brand days."""
    from campaigns.models import BrandDay
    from campaigns.services import campaigns as cs

    now = timezone.now()
    data = {
        "name": "中秋团圆季·老客回购礼遇（满 300 减 50，会员专享，限时三天）",
        "kind": "promotion",
        "segment": segment,
        "channels": ["portal", "sms"],
        "messages": {
            "portal": {
                "body": "{name}，中秋快乐！您的专属礼遇 {voucher} 已到账。" + LONG_NOTE[:200]
            },
            "sms": {"body": "{name}，中秋礼遇已到，详情见会员中心 {portal_link} 拒收请回复R"},
        },
        "starts_at": now - timedelta(days=3),
        "conversion_window_days": 14,
        "holdout_percent": 10,
        "budget": Decimal("20000"),
        "occasion": "中秋节",
    }
    from members.models import Member, Segment

    # Most members may be reached on the portal (the launch needs somebody).
    everyone = Segment.objects.create(
        name="全部会员（营销）", definition={"match": "all", "groups": []}
    )
    first = Member.objects.order_by("pk").first()
    Member.objects.exclude(pk=first.pk).update(consent_portal=True)
    data["segment"] = everyone
    running = cs.campaign_save(data=data, actor=operator)
    running = cs.campaign_launch(campaign=running, actor=operator)
    cs.campaign_results_refresh(running)
    draft = cs.campaign_save(
        data={**data, "name": "双十二会员日", "starts_at": now + timedelta(days=5)}, actor=operator
    )
    cs.campaign_dry_run_save(campaign=draft)
    BrandDay.objects.create(
        name="每月 18 日会员日", kind="member_day", date=now.date(), repeat="monthly"
    )
    day = BrandDay.objects.create(
        name="静安旗舰店开业纪念日", kind="anniversary", date=now.date(), repeat="yearly"
    )
    return {
        "campaign_pk": str(running.pk),
        "draft_campaign_pk": str(draft.pk),
        "brand_day_pk": str(day.pk),
    }


def _messages_world(m, clerk) -> dict[str, str]:
    """The member's messages on every channel and status (with attempts and a long provider
    error), a WeCom to-do of the clerk, a paused channel, a long marketing SMS template."""
    from campaigns.models import ChannelState, Message, MessageAttempt, MessageTemplate, StaffTask

    now = timezone.now()

    def msg(n: int, **values) -> Message:
        defaults = {"source_type": "system", "source_id": f"world:{n}", "member": m}
        return Message.objects.create(**(defaults | values))

    inbox = msg(
        1,
        channel="portal",
        kind="service",
        status="delivered",
        subject="恭喜您升级为金卡会员：新的会员权益已生效（含生日双倍积分）",
        text="欧阳晓雨，恭喜您升级为金卡！新的会员权益已生效，到店或在会员中心查看："
        + LONG_NOTE[:300],
        sent_at=now,
        delivered_at=now,
    )
    msg(
        2,
        channel="portal",
        kind="service",
        status="delivered",
        text="积分到账",
        sent_at=now,
        delivered_at=now,
        read_at=now,
    )
    msg(
        3,
        channel="sms",
        kind="value",
        status="deferred",
        reason="quiet_hours",
        text="护肤小知识：换季时早晚各一次保湿 拒收请回复R",
        scheduled_for=now + timedelta(hours=9),
    )
    msg(
        4,
        channel="email",
        kind="promotion",
        status="skipped",
        reason="no_consent",
        subject="双十一会员专享：满 300 减 50",
        text="全场满 300 减 50",
    )
    failed = msg(
        5,
        channel="sms",
        kind="transactional",
        status="failed",
        reason="gave_up",
        text="您的验证码是 123456",
        attempts=2,
        last_error=LONG_NOTE[:400],
    )
    MessageAttempt.objects.create(
        message=failed, outcome="retry", detail=LONG_NOTE[:500], duration_ms=30_000
    )
    MessageAttempt.objects.create(
        message=failed, outcome="retry", detail="HTTP 503", duration_ms=812
    )
    wecom = msg(
        6,
        channel="wecom",
        kind="value",
        status="sent",
        reason="handed_to_staff",
        text="欧阳女士您好，您常买的玻尿酸修护精华液到新款了，这周到店可以试用",
        sent_at=now,
    )
    StaffTask.objects.create(owner=clerk, member=m, message=wecom, text=wecom.text)
    ChannelState.objects.create(
        channel="email",
        paused=True,
        paused_at=now,
        reason="SMTP 535 5.7.8 Authentication credentials invalid: " + LONG_NOTE[:200],
    )
    template = MessageTemplate.objects.create(
        code="spring_launch_sms",
        name="春季新品上市·到店试用邀请（上海静安嘉里中心旗舰店专享）",
        channel="sms",
        kind="promotion",
        body="{name}，春季新品玻尿酸修护精华液到店啦，{tier}会员到店试用再送小样，"
        "{store}等你 {portal_link} 拒收请回复R",
    )
    return {
        "message_pk": str(failed.pk),
        "inbox_pk": str(inbox.pk),
        "message_template_pk": str(template.pk),
    }


def _member_sign_in(page, phone: str) -> None:
    page.goto("/portal/")
    page.fill("#code-request-form input[name=phone]", phone)
    page.click("#code-request-form button[type=submit]")
    page.locator("#code-confirm-form").wait_for()
    code = re.search(r"\b(\d{6})\b", sms.outbox[-1].text).group(1)
    page.fill("#id_code", code)
    page.click("#code-confirm-form button[type=submit]")
    page.locator("[data-member-card]").wait_for()


def _signed_in(open_page, actor: str, width: int):
    page = open_page(lang="zh-hans", width=width, height=812 if width < 600 else 860)
    if actor == "member":
        _member_sign_in(page, "13800138000")
    else:
        staff_sign_in(page, f"{actor}@example.com")
    return page


def _switch_language(page, lang: str) -> None:
    base = re.match(r"https?://[^/]+", page.url).group(0)
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": base}])


def _url(name: str, args: tuple[str, ...], query: str, world: dict) -> str:
    from django.urls import reverse

    return reverse(name, args=[world[a] for a in args]) + query


def _look(page, shoot, url: str, shot: str, lang: str, problems: list[str]) -> None:
    response = page.goto(url)
    if response is None or response.status != 200:
        problems.append(f"{shot}: {url} answered {response and response.status}")
    if page.evaluate("() => document.documentElement.lang") != HTML_LANG[lang]:
        problems.append(f"{shot}: {url} is not in {lang}")
    _check(page, shoot, shot, problems)


def _check(page, shoot, shot: str, problems: list[str]) -> None:
    m = page.evaluate(MEASURE)
    if m["scroll"] > m["inner"] + 1:
        problems.append(f"{shot}: {page.url} is {m['scroll']} px wide at {m['inner']}: {m['wide']}")
    if m["squeezed"]:
        problems.append(f"{shot}: {page.url} squeezes {m['squeezed']}")
    shoot(page, shot)


def _slug(name: str, query: str) -> str:
    return name.replace(":", "-") + ("-results" if query else "")


def test_every_page_fits_a_phone_in_both_languages(world, open_page, shoot):
    problems: list[str] = []
    for actor, pages in PAGES.items():
        page = _signed_in(open_page, actor, 375)
        for lang in LANGS:
            _switch_language(page, lang)
            for name, args, query in pages:
                url = _url(name, args, query, world)
                _look(page, shoot, url, f"phone-{_slug(name, query)}-{lang}-375", lang, problems)
                if name == "console:segments":  # where an operator may type it: the segments
                    assert page.url.endswith("/console/members/segments/"), page.url
                if name == "counter:purchase":
                    # An empty basket: the confirm button is disabled, and looks it.
                    button = page.locator("[data-confirm-purchase]")
                    opacity = float(button.evaluate("b => getComputedStyle(b).opacity"))
                    if not button.is_disabled() or opacity > 0.6:
                        problems.append(f"{lang}: the empty basket's confirm looks enabled")
                    # A basket line (quantity, price, remove) on the phone, and the confirm live.
                    page.fill("#product-q", "TOAST")
                    page.locator("[data-sku='TOAST-1']").click()
                    page.locator("[data-line='TOAST-1']").wait_for()
                    if button.is_disabled():
                        problems.append(f"{lang}: a basket with a line cannot be confirmed")
                    _check(page, shoot, f"phone-counter-purchase-basket-{lang}-375", problems)
    assert problems == [], "\n".join(problems)


def test_every_page_fits_a_desk_too(world, open_page, shoot):
    problems: list[str] = []
    for actor, pages in PAGES.items():
        page = _signed_in(open_page, actor, 1280)
        for lang in LANGS:
            _switch_language(page, lang)
            for name, args, query in pages:
                url = _url(name, args, query, world)
                _look(page, shoot, url, f"desk-{_slug(name, query)}-{lang}-1280", lang, problems)
    assert problems == [], "\n".join(problems)


def test_the_measure_tells_a_squeezed_cell_from_a_tall_row(browser):
    """The check itself: a word broken into letters is squeezed, a number beside tall details is not."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_content(
        "<table><tr>"
        "<td id='number' style='white-space:nowrap;font-size:12px'>8981</td>"
        "<td style='font-size:12px'><div>a: 1</div><div>b: 2</div><div>c: 3</div><div>d: 4</div></td>"
        "</tr></table><table><tr>"
        "<td id='word' style='width:1px;font-size:14px;word-break:break-all'>Consumers</td>"
        "<td>x</td></tr></table>"
    )
    squeezed = page.evaluate(MEASURE)["squeezed"]
    context.close()
    assert any("Consumers" in s for s in squeezed), squeezed
    assert not any("8981" in s for s in squeezed), squeezed


def _webhooks_world(operator) -> dict[str, str]:
    """A failing endpoint with a long URL and description and a log of deliveries (answers, long
    errors, every status), and one turned off after a day of failures."""
    import json

    from campaigns.models import WebhookAttempt, WebhookDelivery
    from campaigns.services.webhooks import webhook_endpoint_create

    long_url = "https://erp-integration.brand-example.com.cn/api/v2/webhooks/scrm/receive?tenant=shanghai-flagship-2026"
    hook = webhook_endpoint_create(
        url=long_url,
        types=[
            "member.created",
            "order.ingested",
            "tier.changed",
            "voucher.issued",
            "voucher.redeemed",
        ],
        description="ERP 会员与订单同步（生产环境，运维值班电话见 Wiki 页面 OPS-2026-118）",
        actor=operator,
    )
    now = timezone.now()
    type(hook).objects.filter(pk=hook.pk).update(failing_since=now - timedelta(hours=3))
    first = None
    for i, status in enumerate(["pending", "failed", "delivered"] * 4):
        d = WebhookDelivery.objects.create(
            endpoint=hook,
            event_id=81234567 + i,
            event_type="order.ingested",
            body=json.dumps(
                {"id": f"evt_{81234567 + i}", "type": "order.ingested", "data": {"total": "1.00"}}
            ),
            status=status,
            attempts=7,
            last_status_code=None if status == "failed" else 502,
            last_error="" if status == "delivered" else "TimeoutError: timed out " + "x" * 300,
        )
        first = first or d
        for k in range(7):
            WebhookAttempt.objects.create(
                delivery=d,
                status_code=200 if status == "delivered" and k == 6 else 502 if k % 2 else None,
                error="HTTP 502: <html><head><title>502 Bad Gateway</title></head></html>" * 3,
                duration_ms=5000 if k % 2 == 0 else 123,
            )
    off = webhook_endpoint_create(
        url="https://crm-bridge.example.com/in", types=["points.expiring"]
    )
    type(off).objects.filter(pk=off.pk).update(
        is_active=False,
        disabled_at=now - timedelta(hours=1),
        failing_since=now - timedelta(hours=25),
        disabled_reason="ConnectionRefusedError: [Errno 111] Connection refused",
    )
    return {
        "webhook_pk": str(hook.pk),
        "webhook_off_pk": str(off.pk),
        "webhook_delivery_pk": str(first.pk),
    }
