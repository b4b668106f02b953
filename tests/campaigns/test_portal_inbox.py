"""The member portal's inbox: the member's own portal messages that reached them, newest first,
unread ones marked, paginated; opening one marks it read; anyone else's is not found; the portal
home shows the unread count with a link, within its query budget."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message
from campaigns.views import portal as portal_views
from scrm import shells
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _registered():
    """The portal home's tile, as campaigns.apps registers it (registering twice adds nothing)."""
    shells.portal_tiles_register(portal_views.portal_tiles)


def inbox_message(member, *, status="delivered", channel="portal", ago=0, **over) -> Message:
    at = timezone.now() - timedelta(minutes=ago)
    reached = status in ("sent", "delivered")
    return Message.objects.create(
        source_type="system",
        source_id=f"inbox:{next(_seq)}",
        member=member,
        channel=channel,
        kind=over.pop("kind", "service"),
        subject=over.pop("subject", ""),
        text=over.pop("text", "您的积分已到账"),
        status=status,
        sent_at=at if reached else None,
        delivered_at=at if status == "delivered" else None,
        created_at=at,
        **over,
    )


def test_an_empty_inbox_says_what_will_show_there(member_client):
    html = member_client.get(reverse("inbox:list"), **EN).content.decode()
    assert "No messages yet" in html and "News about your points" in html


def test_the_inbox_lists_the_members_portal_messages_newest_first(member_client, member):
    old = inbox_message(member, text="旧消息", ago=60, read_at=timezone.now())
    new = inbox_message(member, subject="礼品待领取", text="您的礼品已备好", ago=1)
    queued = inbox_message(member, status="queued", text="还没送达")
    sms = inbox_message(member, channel="sms", text="短信不在收件箱")
    theirs = inbox_message(MemberFactory(), text="别人的消息")
    html = member_client.get(reverse("inbox:list"), **EN).content.decode()
    assert html.index(f'data-inbox-message="{new.pk}"') < html.index(
        f'data-inbox-message="{old.pk}"'
    )
    for hidden in (queued, sms, theirs):
        assert f'data-inbox-message="{hidden.pk}"' not in html
    assert "礼品待领取" in html and "您的礼品已备好" in html
    assert html.count("data-unread-item") == 1
    assert 'data-unread="1"' in html


def test_opening_a_message_marks_it_read_once(member_client, member):
    m = inbox_message(member, subject="升级通知", text="恭喜升级 https://example.com/portal/")
    r = member_client.get(reverse("inbox:detail", args=[m.pk]))
    assert r.status_code == 200
    html = r.content.decode()
    assert "升级通知" in html and 'href="https://example.com/portal/"' in html
    m.refresh_from_db()
    first = m.read_at
    assert first is not None
    member_client.get(reverse("inbox:detail", args=[m.pk]))
    m.refresh_from_db()
    assert m.read_at == first
    assert "data-unread-item" not in member_client.get(reverse("inbox:list")).content.decode()


def test_another_members_message_is_not_found_and_stays_unread(member_client, member):
    theirs = inbox_message(MemberFactory(), text="别人的消息")
    queued = inbox_message(member, status="queued")
    sms = inbox_message(member, channel="sms")
    for m in (theirs, queued, sms):
        assert member_client.get(reverse("inbox:detail", args=[m.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_staff_may_not_open_the_inbox(operator_client, member):
    m = inbox_message(member)
    assert operator_client.get(reverse("inbox:list")).status_code == 403
    assert operator_client.get(reverse("inbox:detail", args=[m.pk])).status_code == 403


def test_the_inbox_is_paginated(member_client, member):
    for i in range(25):
        inbox_message(member, ago=i, text=f"第 {i} 条")
    first = member_client.get(reverse("inbox:list")).content.decode()
    second = member_client.get(reverse("inbox:list"), {"page": 2}).content.decode()
    assert first.count("data-inbox-message=") == 20
    assert second.count("data-inbox-message=") == 5


def test_the_inbox_costs_a_bounded_number_of_queries(
    member_client, member, django_assert_max_num_queries
):
    for i in range(40):
        inbox_message(member, ago=i)
    member_client.get(reverse("inbox:list"))
    with django_assert_max_num_queries(7):
        assert member_client.get(reverse("inbox:list")).status_code == 200


def test_the_portal_home_shows_the_unread_count_with_a_link(member_client, member):
    m = inbox_message(member)
    inbox_message(member)
    inbox_message(member, read_at=timezone.now())
    inbox_message(member, status="queued")
    html = member_client.get(reverse("portal:home"), **EN).content.decode()
    assert f'href="{reverse("inbox:list")}" data-tile="inbox"' in html
    assert "data-tile-count>2 new<" in html
    member_client.get(reverse("inbox:detail", args=[m.pk]))
    html = member_client.get(reverse("portal:home"), **EN).content.decode()
    assert "data-tile-count>1 new<" in html


def test_the_portal_home_without_unread_messages_shows_the_link_without_a_count(member_client):
    html = member_client.get(reverse("portal:home"), **EN).content.decode()
    assert 'data-tile="inbox"' in html and "data-tile-count" not in html


def test_the_portal_home_with_its_inbox_tile_stays_within_10_queries(member_client, member):
    for _i in range(5):
        inbox_message(member)
    member_client.get(reverse("portal:home"))
    with CaptureQueriesContext(connection) as queries:
        assert member_client.get(reverse("portal:home")).status_code == 200
    assert len(queries) <= 10, [q["sql"][:120] for q in queries.captured_queries]
