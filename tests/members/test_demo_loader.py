"""The set-based benchmark loader must agree with the engine: same orders, same points."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from members.demo.loader import dataset_load
from members.loyalty import tier_for
from members.models import Member, Order
from members.selectors import standing
from members.services import LineIn, OrderIn, order_ingest
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db


def test_loaded_ledgers_and_tiers_match_what_the_engine_computes(store_sh):
    result = dataset_load(members=60, orders_per_member=6, log=lambda _m: None)
    assert result["members"] == 60 and result["orders"] > 200
    call_command("ledger_verify", stdout=StringIO())
    from members.selectors.rules import loyalty_context

    tiers = loyalty_context().tier_rules
    checked = 0
    for member in Member.objects.filter(phone__startswith="+86192", purchase_count__gte=4)[:8]:
        assert tier_for(standing(member), tiers).id == member.tier_id
        twin = MemberFactory(store=store_sh)
        for order in Order.objects.filter(member=member).order_by("placed_at", "id"):
            order_ingest(
                data=OrderIn(
                    source="twin",
                    external_id=f"{order.external_id}",
                    member=twin.code,
                    placed_at=order.placed_at,
                    total=order.total,
                    lines=[LineIn(sku="T", quantity=1, amount=order.total)],
                ),
                hash_=order.external_id,
            )
        twin.refresh_from_db()
        assert twin.points_balance == member.points_balance, member.code
        assert twin.purchase_count == member.purchase_count
        checked += 1
    assert checked >= 3


def test_loaded_members_past_the_fifth_purchase_have_their_gift_milestone(store_sh):
    from members.models import GiftGrant, MilestoneReached

    dataset_load(members=40, orders_per_member=6, log=lambda _m: None)
    past_fifth = Member.objects.filter(phone__startswith="+86192", purchase_count__gte=5)
    assert past_fifth.exists()
    assert MilestoneReached.objects.filter(member__in=past_fifth).count() == past_fifth.count()
    assert (
        GiftGrant.objects.filter(member__in=past_fifth, status="fulfilled").count()
        == past_fifth.count()
    )
    assert not MilestoneReached.objects.filter(
        member__phone__startswith="+86192", member__purchase_count__lt=5
    ).exists()


def test_a_big_demo_is_the_story_then_bulk_members_and_loading_it_again_adds_none(monkeypatch):
    from members.demo.data import HEADLINE_PHONE
    from members.management.commands import seed_demo

    monkeypatch.setattr(seed_demo, "BULK_THRESHOLD", 50)
    monkeypatch.setattr(seed_demo, "DEFAULT_MEMBERS", 30)
    for _run in range(2):
        call_command("seed_demo", members=90, stdout=StringIO(), stderr=StringIO())
        assert Member.objects.count() == 90
    assert Member.objects.filter(phone__startswith="+86192").count() == 60
    lin = Member.objects.get(phone="+86" + HEADLINE_PHONE)
    assert lin.purchase_count == 2 and lin.owner is not None
    call_command("ledger_verify", stdout=StringIO())
