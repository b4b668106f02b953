"""The demo shows the product: members in every stage with what their purchases imply, owners,
consent, tags, notes, vouchers and gifts, all written through the services (ledgers add up), and
the console's sample files import into it cleanly."""

from __future__ import annotations

import logging
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts import roles
from accounts.demo import DEMO_LOGINS
from accounts.models import Store, User
from members.models import (
    Child,
    ConsentRecord,
    GiftGrant,
    ImportJob,
    Member,
    MemberTag,
    Note,
    Order,
    Pet,
    PointsEntry,
    Profile,
    Segment,
    Tag,
    Voucher,
)

pytestmark = pytest.mark.django_db

HEADLINE = "+86" + DEMO_LOGINS["member_phone"]


def seed(n: int) -> None:
    call_command("seed_demo", members=n, stdout=StringIO(), stderr=StringIO())


@pytest.mark.sqlite
def test_the_demo_has_every_stage_profiles_owners_consent_vouchers_and_gifts(caplog):
    caplog.set_level(logging.WARNING, logger="scrm.orders")
    seed(200)
    assert not [r for r in caplog.records if "one by one" in r.getMessage()]  # set-based ingest
    members = Member.objects.all()
    n = members.count()
    assert n == 200 and Store.objects.count() == 3

    # Every lifecycle stage, as the nightly run sees it (it has run).
    stages = Counter(members.values_list("lifecycle_stage", flat=True))
    assert set(stages) == set(Member.Stage.values), stages
    assert all(count >= 5 for count in stages.values()), stages

    # What purchases imply: skin profiles for skincare buyers, taste for bakery buyers,
    # children at every stage for mother-and-baby buyers, pets with vaccinations for pet buyers.
    skin = Profile.objects.exclude(skin_type="")
    assert skin.count() >= n * 0.2
    skincare_buyers = members.filter(orders__lines__product__category="skincare").distinct()
    assert skin.filter(member__in=skincare_buyers).count() >= skincare_buyers.count() * 0.6
    assert Profile.objects.exclude(likes="").count() >= n * 0.1
    stages_of_children = Counter(c.stage() for c in Child.objects.all())
    for stage in ("pregnancy", "newborn", "infant", "toddler", "preschool"):
        assert stages_of_children[stage] >= 3, stages_of_children
    assert Child.objects.filter(birth_date__isnull=True, due_date__gt=timezone.localdate()).exists()
    pets = Pet.objects.all()
    assert pets.count() >= n * 0.1 and all(p.vaccinations for p in pets)
    assert {"cat", "dog"} <= set(pets.values_list("species", flat=True))

    # An owner for every member, a colleague of the member's store.
    assert not members.filter(owner__isnull=True).exists()
    for m in members.select_related("owner", "store")[:60]:
        assert m.store in m.owner.stores.all()
    assert User.objects.filter(owned_members__isnull=False).distinct().count() >= 5

    # Consent for most (SMS, WeCom and portal more than email), with its history.
    consenting = members.exclude(
        consent_sms=False, consent_wecom=False, consent_portal=False, consent_email=False
    )
    assert consenting.count() >= n * 0.75
    sms = members.filter(consent_sms=True).count()
    assert sms > members.filter(consent_email=True).count() > 0
    assert ConsentRecord.objects.filter(granted=True).count() >= consenting.count()
    assert ConsentRecord.objects.filter(granted=False).exists()  # some withdrew later

    # Tags, manual and automatic; notes by the owners.
    assert MemberTag.objects.filter(tag__kind=Tag.Kind.AUTO).count() >= n * 0.5
    assert MemberTag.objects.filter(tag__kind=Tag.Kind.MANUAL).count() >= n * 0.1
    assert Note.objects.filter(author__isnull=False).count() >= n * 0.15

    # Vouchers issued, redeemed through real orders, and expired; gifts waiting at the counter.
    status = Counter(Voucher.objects.values_list("status", flat=True))
    assert status["available"] >= 10 and status["redeemed"] >= 10 and status["expired"] >= 5
    redeemed = Voucher.objects.filter(status="redeemed")
    assert not redeemed.filter(redeemed_order__isnull=True).exists()
    assert Order.objects.filter(discounted=True).count() == redeemed.count()
    assert GiftGrant.objects.filter(status="pending").count() >= 3
    assert GiftGrant.objects.filter(status="fulfilled").exists()
    assert PointsEntry.objects.filter(kind="redeem").exists()  # points spent on rewards
    assert PointsEntry.objects.filter(kind="expire").exists()  # the nightly expiry ran
    assert members.filter(tier__code="vip").count() >= 10
    assert members.filter(tier__code="gold").exists()

    # The ledgers add up and the purchase counts are the orders' (everything through the engine).
    call_command("ledger_verify", stdout=StringIO())
    from members.selectors import purchase_count

    for m in members.filter(purchase_count__gt=0)[:80]:
        assert m.purchase_count == purchase_count(m)

    # The headline member: two purchases, one away from VIP, a baby, a skin profile, a voucher.
    from members.selectors.cards import member_card, usable_voucher_q

    lin = Member.objects.get(phone=HEADLINE)
    assert lin.name == "林晓雨" and lin.purchase_count == 2 and lin.tier.code == "member"
    assert member_card(lin)["next_tier"]["missing"] == {"purchases": 1}
    assert lin.lifecycle_stage == "second_purchase"
    assert lin.children.count() == 1 and lin.profile.skin_type
    assert Voucher.objects.filter(usable_voucher_q(timezone.now()), member=lin).count() == 1
    assert lin.consent_sms and lin.consent_wecom and not lin.marketing_opt_out
    assert lin.owner.email == DEMO_LOGINS["clerk"]

    # Saved segments the operator can use at once, reaching many members.
    from members.selectors.segments import segment_counts

    operator = User.objects.get(email=DEMO_LOGINS["operator"])
    counts = {
        s.name: segment_counts(user=operator, definition=s.definition)["reachable"]
        for s in Segment.objects.all()
    }
    assert len(counts) >= 5 and max(counts.values()) > 50, counts
    assert all(counts.values()), counts


def test_seeding_shows_its_progress_stage_by_stage():
    import re

    from members.demo.data import Progress

    out, err = StringIO(), StringIO()
    call_command("seed_demo", members=20, stdout=out, stderr=err)
    lines = err.getvalue().splitlines()
    assert lines[0] == "Loading the demo: 20 members with two years of orders..."
    steps = [re.fullmatch(r"  \[\s*(\d+)%\] (\w+): .+ \((\d+)s\)", line) for line in lines[1:]]
    assert len(steps) >= len(Progress.WEIGHTS) and all(steps), lines
    percents = [int(m[1]) for m in steps]
    assert percents == sorted(percents) and percents[-1] == 100, percents
    assert {m[2] for m in steps} == set(Progress.WEIGHTS)  # a line for every stage
    assert re.search(
        r"Demo data ready in \d+s: 3 stores, 8 staff, 20 members, \d+ orders", out.getvalue()
    )
    out, err = StringIO(), StringIO()
    call_command("seed_demo", members=20, stdout=out, stderr=err)
    assert "Demo data already loaded: 20 members" in out.getvalue() and not err.getvalue()


def test_seed_demo_is_idempotent_and_its_sign_ins_work(client):
    seed(40)
    counts = (
        Store.objects.count(),
        User.objects.count(),
        Member.objects.count(),
        Order.objects.count(),
        PointsEntry.objects.count(),
        Voucher.objects.count(),
    )
    seed(40)
    assert (
        Store.objects.count(),
        User.objects.count(),
        Member.objects.count(),
        Order.objects.count(),
        PointsEntry.objects.count(),
        Voucher.objects.count(),
    ) == counts
    assert counts[0] == 3 and counts[2] == 40
    call_command("ledger_verify", stdout=StringIO())
    assert User.objects.get(email=DEMO_LOGINS["operator"]).role == roles.OPERATOR
    clerk = User.objects.get(email=DEMO_LOGINS["clerk"])
    assert clerk.role == roles.CLERK and list(clerk.stores.values_list("code", flat=True)) == [
        "SH01"
    ]
    assert Member.objects.filter(phone=HEADLINE, purchase_count=2).exists()
    client.post(
        "/accounts/login/", {"login": DEMO_LOGINS["operator"], "password": "scrm-demo-2026"}
    )
    assert client.get("/").url == "/console/"


@pytest.fixture
def eager():
    from scrm.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


@pytest.mark.sqlite
@pytest.mark.parametrize("kind", ["orders", "members"])
def test_each_sample_file_imports_into_the_demo_without_a_row_error(
    client, eager, django_capture_on_commit_callbacks, kind
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    seed(30)
    client.post(
        "/accounts/login/", {"login": DEMO_LOGINS["operator"], "password": "scrm-demo-2026"}
    )
    text = client.get(f"/console/members/imports/sample-{kind}.csv").content.decode("utf-8-sig")
    members_before = Member.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/console/members/imports/",
            {"kind": kind, "file": SimpleUploadedFile(f"{kind}.csv", text.encode(), "text/csv")},
        )
    job = ImportJob.objects.get()
    assert job.status == "ready" and job.error_rows == 0, job.errors
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/console/members/imports/{job.pk}/apply/")
    job.refresh_from_db()
    assert job.status == "done" and job.applied_rows == job.total_rows == 3, job.message
    if kind == "orders":  # the demo's members and products: nobody new, no new product
        assert Member.objects.count() == members_before
        lin = Member.objects.get(phone=HEADLINE)
        assert lin.purchase_count == 3 and lin.tier.code == "vip"  # her 3rd purchase
        from members.demo.data import CATALOGUE
        from members.models import Product

        assert Product.objects.count() == len(CATALOGUE)
    else:
        assert Member.objects.count() == members_before + 3
    call_command("ledger_verify", stdout=StringIO())
