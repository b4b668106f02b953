"""The Chinese words a page picks where one English word has several: 名称 for the name of a thing
(姓名 is a person's), 备注 for a staff note, 购买记录 for what a member bought, 核销 for a voucher used
at the counter; and what a Chinese reader is told in full sentences: a masked phone in the
code-sent message, category names instead of their keys, a segment's errors by group and
condition, our wording for a code that is taken. Each page is rendered in zh-hans."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.services import apikey_create
from members.models import Product
from members.services.profiles import note_add, pet_save, tag_define
from members.services.segments import segment_save
from tests.factories import StoreFactory

pytestmark = pytest.mark.django_db

ZH = "zh-hans"


def _zh(client, url: str, data: dict | None = None, **kw) -> str:
    client.cookies["django_language"] = ZH
    if data is None:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE=ZH, **kw)
    else:
        response = client.post(url, data, HTTP_ACCEPT_LANGUAGE=ZH, **kw)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def _form(html: str, section: str) -> str:
    """The form of a page that posts ``section`` (the 360 page and the profile have several)."""
    start = html.index(f'name="section" value="{section}"')
    return html[start : html.index("</form>", start)]


@pytest.fixture
def categories(db):
    Product.objects.create(
        sku="BREAD-1", name="全麦吐司", category="bakery", price=Decimal("18.50")
    )
    Product.objects.create(
        sku="BOTTLE-1", name="奶瓶", category="mother_baby", price=Decimal("99.00")
    )


# --- 名称: the name of a thing -------------------------------------------------------------------


def _api_keys(c, w):
    apikey_create(name="POS Shanghai", actor=w["admin_user"])
    return (
        c["admin"],
        reverse("accounts:apikey_list"),
        ["<th>名称</th>", '<label for="id_name">名称'],
    )


def _tags(c, w):
    tag_define(name="甜品控", rule_category="", actor=w["operator"])
    return c["operator"], reverse("members:profile_fields"), ['<label for="t-name">名称</label>']


def _stores(c, w):
    StoreFactory(code="SH01", name="上海静安店")
    return c["admin"], reverse("accounts:store_list"), ["<th>编码</th><th>名称</th>"]


def _segments(c, w):
    definition = {"groups": [{"conditions": [{"field": "tier", "op": "in", "value": ["member"]}]}]}
    segment_save(name="全部会员", definition=definition, for_marketing=False, actor=w["operator"])
    return c["operator"], reverse("members:segment_list"), ["<th>名称</th>"]


def _product(c, w):
    p = Product.objects.create(sku="MASK-10", name="补水面膜", category="skincare", price=1)
    return c["operator"], reverse("offers:product_edit", args=[p.pk]), ['<label for="id_name">名称']


@pytest.mark.parametrize("page", [_api_keys, _tags, _stores, _segments, _product])
def test_the_name_of_a_thing_is_名称_not_a_persons_姓名(
    page, admin_client, operator_client, admin_user, operator
):
    client, url, wanted = page(
        {"admin": admin_client, "operator": operator_client},
        {"admin_user": admin_user, "operator": operator},
    )
    html = _zh(client, url)
    for snippet in wanted:
        assert snippet in html
    assert "姓名" not in html and "验证码" not in html  # a code of a thing is 编码


@pytest.mark.parametrize("where", ["console", "portal"])
def test_a_pets_name_is_not_a_persons_姓名(where, operator_client, member_client, member):
    pet_save(member=member, name="豆豆", species="dog", birthday=None, vaccinations=[], actor=None)
    if where == "console":
        html = _zh(operator_client, reverse("members:detail", args=[member.code]))
    else:
        html = _zh(member_client, reverse("portal:profile"))
    form = _form(html, "pet")
    assert '<label for="id_name">名字' in form and "姓名" not in form


# --- 备注: a staff note --------------------------------------------------------------------------


def test_a_note_is_备注_in_the_timeline_and_its_box(operator_client, operator, member):
    note_add(member=member, body="喜欢抹茶", actor=operator)
    html = _zh(operator_client, reverse("members:detail", args=[member.code]))
    entry = re.search(r'<li class="tl-note">.*?</li>', html, re.S)
    assert entry and "<strong>备注</strong>" in entry[0] and "喜欢抹茶" in entry[0]
    assert 'aria-label="备注"' in _form(html, "note")
    assert "说明" not in html


# --- The segment builder and the automatic tags ------------------------------------------------


def _builder(client, **conditions) -> str:
    data = {"match": "all", "g0_match": "all", **conditions}
    return _zh(client, reverse("members:segment_new"), data)


def test_the_builder_groups_purchases_as_购买记录_and_names_categories(
    operator_client, categories, store_sh
):
    html = _builder(operator_client, g0_c0_field="bought_category", g0_c0_op="in", action="add:0")
    assert '<optgroup label="购买记录">' in html
    select = re.search(r'<select name="g0_c0_value".*?</select>', html, re.S)[0]
    assert '<option value="bakery" >烘焙</option>' in select
    assert '<option value="mother_baby" >母婴</option>' in select
    assert select.count('value="bakery"') == 1
    assert not re.search(r">\s*(bakery|mother_baby)\s*<", html)


def test_the_automatic_tag_rule_names_categories(operator_client, operator, categories):
    tag_define(name="烘焙爱好者", rule_category="bakery", actor=operator)
    html = _zh(operator_client, reverse("members:profile_fields"))
    select = re.search(r'<select id="t-rule".*?</select>', html, re.S)[0]
    assert '<option value="bakery"' in select and ">烘焙</option>" in select
    assert "<td>购买过烘焙</td>" in html  # the rule in the list of tags
    assert not re.search(r">\s*(bakery|mother_baby)\s*<", html)


def test_a_segments_errors_say_which_group_and_condition(operator_client, store_sh):
    html = _builder(
        operator_client,
        action="save",
        name="沉睡会员",
        g0_c0_field="lifecycle_stage",
        g0_c0_op="in",
        g0_c0_value=["dormant"],
        g0_c1_field="rfm_r",
        g0_c1_op="gte",
        g0_c1_value="x",
    )
    assert "<strong>第 1 组第 2 个条件</strong>" in html
    assert "groups[" not in html and "conditions[" not in html


# --- Sentences ---------------------------------------------------------------------------------


def test_the_code_sent_message_masks_the_phone(client, member_user):
    html = _zh(client, "/accounts/login/code/", {"phone": "13800138000"}, follow=True)
    assert "验证码已发送至 138****8000。" in html
    assert "+8613800138000" not in html and "13800138000" not in html and "登录代码" not in html


def test_a_store_code_taken_is_said_in_our_words(admin_client, store_sh):
    html = _zh(
        admin_client,
        reverse("accounts:store_new"),
        {"code": "SH01", "name": "上海新店", "city": "上海", "time_zone": "Asia/Shanghai"},
    )
    assert "已有相同编码的门店。" in html
    assert "具有" not in html


# --- 核销: a voucher used at the counter -------------------------------------------------------


def test_a_redeemed_voucher_is_核销_as_at_the_counter(operator_client, member_client, member):
    from members.models import Voucher, VoucherTemplate

    template = VoucherTemplate.objects.create(
        code="TEN-OFF", name_zh="满百减十", name_en="10 off", kind="amount_off", amount=10
    )
    Voucher.objects.create(code="V1", template=template, member=member, status="redeemed")
    head = re.search(r"<thead>.*?</thead>", _zh(operator_client, reverse("offers:template_list")))
    assert '<th class="num">已核销</th>' in head[0] and "兑换" not in head[0]
    html = _zh(operator_client, reverse("offers:template_edit", args=[template.pk]))
    assert '<div class="stat-title">已核销</div>' in html
    used = _zh(member_client, reverse("portal:vouchers"))
    assert re.search(r"<span>满百减十</span><span class=\"chev small\">已核销</span>", used)


def test_the_top_tier_sentence_reads_as_chinese(member_client, member):
    from tests.members.test_counter_portal import _gold

    _gold(member)
    html = _zh(member_client, reverse("portal:home"))
    sentence = re.search(r"您[^<]*感谢支持[^<]*", html)[0]
    assert sentence == "您已是最高等级：金卡。感谢支持！"
