"""The demo's campaigns (``seed_demo_campaigns``): one in every state, through the real services,
the finished Mid-Autumn one with its holdout and its lift; a second run adds nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from campaigns.models import BrandDay, Campaign, CampaignMember, Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.sqlite
def test_the_demo_has_a_campaign_in_every_state_and_a_measured_lift():
    call_command("seed_demo", members=300, stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("seed_demo_campaigns", stdout=out)
    by_status = dict(Campaign.objects.values_list("status", "name"))
    assert set(by_status) == {"finished", "running", "scheduled", "draft"}
    moon = Campaign.objects.get(status="finished")
    assert moon.holdout_percent == 20 and moon.results is not None
    held = CampaignMember.objects.filter(campaign=moon, group="holdout")
    assert held.count() == moon.holdout_count > 0
    assert not Message.objects.filter(
        source_id=f"{moon.pk}:0", member_id__in=held.values("member_id")
    ).exists()
    lift = moon.results["lift"]  # the treatment buys more (40% more mooncakes against 5%)
    assert float(lift["ci95"][0]) < float(lift["absolute"]) < float(lift["ci95"][1])
    assert float(lift["absolute"]) > 0
    assert Campaign.objects.get(status="draft").dry_run is not None
    assert BrandDay.objects.filter(repeat="monthly").exists()
    call_command("seed_demo_campaigns", stdout=StringIO())
    assert Campaign.objects.count() == 4
