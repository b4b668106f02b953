"""A campaign to the whole data set (1,000,000 members, a 10% holdout, the portal channel): the
dry run, the launch (the draw written in one INSERT … SELECT, then the treatment's messages into
the outbox in chunks of 20,000), the results computed over the window's orders, and the results
page as an operator opens it. Every member is made reachable for the run (consent on the portal,
no opt-out) and put back as they were afterwards; the campaign's rows are removed."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

GOALS = {"launch_seconds": 60, "dry_run_seconds": 5, "results_page_seconds": 1}


def _reachable_everyone(cursor) -> None:
    cursor.execute("DROP TABLE IF EXISTS bench_consent_backup")
    cursor.execute(
        "CREATE TABLE bench_consent_backup AS"
        " SELECT id, consent_portal, marketing_opt_out, frequency FROM members_member"
    )
    cursor.execute(
        "UPDATE members_member SET consent_portal = true, marketing_opt_out = false,"
        " frequency = 'any' WHERE NOT consent_portal OR marketing_opt_out OR frequency <> 'any'"
    )


def _restore(cursor) -> None:
    cursor.execute(
        "UPDATE members_member m SET consent_portal = b.consent_portal,"
        " marketing_opt_out = b.marketing_opt_out, frequency = b.frequency"
        " FROM bench_consent_backup b WHERE b.id = m.id AND (m.consent_portal <> b.consent_portal"
        " OR m.marketing_opt_out <> b.marketing_opt_out OR m.frequency <> b.frequency)"
    )
    cursor.execute("DROP TABLE bench_consent_backup")


def run(args) -> dict:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from accounts import roles
    from accounts.services import staff_save
    from campaigns.models import Campaign, CampaignMember, Message
    from campaigns.selectors.campaigns import campaign_dry_run
    from campaigns.services.campaigns import (
        campaign_launch,
        campaign_outbox_write,
        campaign_results_refresh,
        campaign_save,
    )
    from members.models import Segment

    with connection.cursor() as cursor:
        _reachable_everyone(cursor)
        cursor.execute("ANALYZE members_member")
    segment = Segment.objects.create(
        name="bench: everyone", definition={"match": "all", "groups": []}
    )
    campaign = campaign_save(
        data={
            "name": "bench 中秋回购",
            "kind": "value",
            "segment": segment,
            "channels": ["portal"],
            "messages": {"portal": {"body": "{name}，中秋快乐！您有 {points} 积分可用。"}},
            "starts_at": timezone.now() - timedelta(minutes=1),
            "conversion_window_days": 14,
            "holdout_percent": 10,
        },
        actor=None,
    )
    from accounts.models import User

    # Kept between runs: a user with audit entries cannot be deleted (the log is append-only).
    operator = User.objects.filter(email="bench-operator@example.com").first() or staff_save(
        email="bench-operator@example.com",
        name="Bench",
        role=roles.OPERATOR,
        stores=[],
        password=secrets.token_urlsafe(16),  # never used: the bench signs in with force_login
        actor=None,
    )
    try:
        started = time.monotonic()
        dry = campaign_dry_run(campaign)
        dry_seconds = time.monotonic() - started

        started = time.monotonic()
        # The draw and the groups (and the outbox's first chunk), then the rest of the outbox.
        campaign = campaign_launch(campaign=campaign, actor=None, write_budget_seconds=0)
        draw_seconds = time.monotonic() - started
        campaign_outbox_write(campaign.pk, budget_seconds=3600)
        launch_seconds = time.monotonic() - started
        groups = CampaignMember.objects.filter(campaign=campaign).count()
        messages = Message.objects.filter(
            source_type="campaign", source_id=campaign.source_id(0)
        ).count()

        started = time.monotonic()
        results = campaign_results_refresh(campaign)
        results_seconds = time.monotonic() - started

        client = Client()
        client.force_login(operator)
        url = f"/console/campaigns/{campaign.pk}/results/"
        client.get(url)  # warm: templates and translations loaded once per process
        started = time.monotonic()
        page = client.get(url)
        page_seconds = time.monotonic() - started
        assert page.status_code == 200, page.status_code
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM campaigns_message WHERE source_type = 'campaign' AND source_id = %s",
                [f"{campaign.pk}:0"],
            )
            cursor.execute(
                "DELETE FROM campaigns_campaignmember WHERE campaign_id = %s", [campaign.pk]
            )
            _restore(cursor)
        Campaign.objects.filter(pk=campaign.pk).delete()
        segment.delete()
    return {
        "audience": dry["reachable_audience"],
        "dry_run_seconds": round(dry_seconds, 2),
        "dry_run_treatment": dry["treatment"],
        "launch_seconds": round(launch_seconds, 1),
        "draw_and_groups_seconds": round(draw_seconds, 1),
        "groups_written": groups,
        "treatment": campaign.treatment_count,
        "holdout": campaign.holdout_count,
        "messages_written": messages,
        "results_compute_seconds": round(results_seconds, 2),
        "results_page_seconds": round(page_seconds, 3),
        "converted_treatment": results["treatment"]["converted"],
        "goals": GOALS,
    }
