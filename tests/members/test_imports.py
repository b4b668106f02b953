from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from members.models import ImportJob, Member, Order, PointsEntry

pytestmark = pytest.mark.django_db

ORDERS_CSV = """source,external_id,member,store,placed_at,sku,name,category,quantity,amount
pos,A-1,13800138000,SH01,2026-11-01 10:00,MASK-10,面膜,skincare,1,100.00
pos,A-1,13800138000,SH01,2026-11-01 10:00,SERUM,精华,skincare,1,200.00
pos,A-2,13800138000,SH01,2026-11-02 10:00,MASK-10,面膜,skincare,1,100.00
pos,A-3,13900139000,,2026-11-03 10:00,TOAST,吐司,bakery,2,44.00
"""

BAD_CSV = (
    ORDERS_CSV
    + """pos,A-4,12345,SH01,2026-11-03 10:00,X,x,x,1,10.00
pos,A-5,13700137000,SH01,yesterday,X,x,x,1,10.00
pos,A-6,13700137000,NOPE,2026-11-03 10:00,X,x,x,zero,-1
"""
)


@pytest.fixture
def eager():
    from scrm.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def upload(client, text, kind="orders", name="orders.csv"):
    return client.post(
        "/console/members/imports/",
        {"kind": kind, "file": SimpleUploadedFile(name, text.encode("utf-8"), "text/csv")},
    )


@pytest.mark.sqlite
def test_a_clean_order_file_is_checked_then_applied_through_the_services(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        r = upload(operator_client, ORDERS_CSV)
    job = ImportJob.objects.get()
    assert r.status_code == 302 and job.status == "ready" and job.total_rows == 4
    assert not Order.objects.exists()  # nothing before the operator confirms
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    job.refresh_from_db()
    assert job.status == "done" and job.applied_rows == 4 and job.created_records == 3
    assert Order.objects.count() == 3
    a1 = Order.objects.get(external_id="A-1")
    assert a1.total == 300 and a1.lines.count() == 2
    member = Member.objects.get(phone="+8613800138000")
    assert member.purchase_count == 2 and member.points_balance == 400
    page = operator_client.get(f"/console/members/imports/{job.pk}/").content.decode()
    assert 'data-status="done"' in page
    # An imported order keeps its id, points and events; no client waits for a member card.
    assert a1.result["id"] == a1.pk and a1.result["points_earned"] == 300
    assert a1.result["events"][0]["type"] == "points_earned" and "member" not in a1.result
    # Each member's lifecycle was refreshed at the end: doing it again changes nothing.
    from members.services.lifecycle import FIELDS, lifecycle_refresh

    before = {f: getattr(member, f) for f in FIELDS}
    assert member.lifecycle_stage != "prospect" and member.next_purchase_due is not None
    assert lifecycle_refresh(member_ids=[member.pk]) == 0
    member.refresh_from_db()
    assert {f: getattr(member, f) for f in FIELDS} == before


@pytest.mark.sqlite
def test_a_file_with_errors_applies_nothing_unless_bad_rows_are_skipped(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, BAD_CSV)
    job = ImportJob.objects.get()
    assert job.status == "invalid" and job.total_rows == 7 and job.error_rows == 3
    fields = {(e["row"], e["field"]) for e in job.errors}
    assert {(6, "member"), (7, "placed_at"), (8, "store"), (8, "quantity"), (8, "amount")} <= fields
    report = operator_client.get(f"/console/members/imports/{job.pk}/errors.csv").content.decode(
        "utf-8-sig"
    )
    assert report.splitlines()[0].count(",") == 2 and "placed_at" in report
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    assert not Order.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/", {"skip_bad_rows": "1"})
    job.refresh_from_db()
    assert job.status == "done" and Order.objects.count() == 3


@pytest.mark.sqlite
def test_a_failure_while_applying_rolls_the_whole_file_back(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks
):
    from members.services import LineIn, OrderIn, order_ingest
    from members.services.idempotency import request_hash
    from tests.factories import MemberFactory

    m = MemberFactory(phone="+8613900139000")
    from django.utils import timezone

    # A-3 already exists with different content: applying it is an idempotency mismatch.
    order_ingest(
        data=OrderIn(
            source="pos",
            external_id="A-3",
            member=m.code,
            placed_at=timezone.now(),
            total=1,
            lines=[LineIn(sku="Z", quantity=1, amount=1)],
        ),
        hash_=request_hash("other"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, ORDERS_CSV)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    job.refresh_from_db()
    assert job.status == "failed" and "5" in job.message  # names the row: "Row 5: ..."
    assert Order.objects.count() == 1  # only the one made before


@pytest.mark.sqlite
def test_member_file_books_opening_balances(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks
):
    text = "phone,name,store,birthday,opening_points\n13800138000,林晓雨,SH01,1992-05-20,1280\n13900139000,张伟,,,\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, text, kind="members", name="members.csv")
    job = ImportJob.objects.get()
    assert job.status == "ready"
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    m = Member.objects.get(phone="+8613800138000")
    assert m.points_balance == 1280 and str(m.birthday) == "1992-05-20" and m.store == store_sh
    entry = PointsEntry.objects.get(member=m)
    assert entry.kind == "adjust" and "members.csv" in entry.reason
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, text, kind="members", name="again.csv")
    again = ImportJob.objects.order_by("-id").first()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{again.pk}/apply/")
    m.refresh_from_db()
    assert (
        m.points_balance == 2560
    )  # a second file is a second opening balance, booked under its own key


def test_non_csv_and_missing_columns_are_named(
    operator_client, eager, django_capture_on_commit_callbacks
):
    r = upload(operator_client, "x", name="orders.xlsx")
    assert r.status_code == 200 and not ImportJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, "source,member\npos,1\n")
    job = ImportJob.objects.get()
    assert job.status == "invalid" and "external_id" in job.errors[0]["message"]


def test_dates_that_do_not_exist_are_row_errors_not_crashes(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks
):
    orders = ORDERS_CSV + "pos,A-9,13800138000,SH01,2026-02-30 10:00,X,x,x,1,10.00\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, orders)
    members = "phone,birthday\n13800138000,1990-02-30\n13900139000,1990-02-28\n"
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, members, kind="members", name="members.csv")
    order_job, member_job = ImportJob.objects.order_by("id")
    assert order_job.status == "invalid" and [(e["row"], e["field"]) for e in order_job.errors] == [
        (6, "placed_at")
    ]
    assert member_job.status == "invalid" and [
        (e["row"], e["field"]) for e in member_job.errors
    ] == [(2, "birthday")]


def test_an_unexpected_error_fails_the_job_instead_of_leaving_it_spinning(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks, monkeypatch
):
    from members.services import imports

    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, ORDERS_CSV)
    job = ImportJob.objects.get()

    def boom(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(imports, "_apply_orders", boom)
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    job.refresh_from_db()
    # The message is in the operator's language; it names the job to find it in the worker's log.
    assert job.status == "failed" and f" {job.pk}" in job.message
    assert not Order.objects.exists()
    page = operator_client.get(f"/console/members/imports/{job.pk}/").content.decode()
    assert 'data-status="failed"' in page and job.message in page
    # A bug or the database gone, not the file: the page offers to apply the same file again.
    assert job.can_apply_again and f'action="/console/members/imports/{job.pk}/apply/"' in page
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    job.refresh_from_db()
    assert job.status == "done" and Order.objects.count() == 3

    monkeypatch.setattr(imports, "_validate_orders", boom)
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, ORDERS_CSV)
    assert ImportJob.objects.order_by("-id").first().status == "failed"


def test_member_file_is_applied_set_based_like_enrolling_each_row(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks, monkeypatch, enrolled_ids
):
    """On PostgreSQL a member file is applied set-based; it must give what enrolling each row and
    booking its opening balance gives: codes, tier, store, channel, ledger, audit and events."""
    from django.core.management import call_command

    from accounts.models import AuditEntry
    from members.models import Tier
    from members.services import members
    from members.services.orders import CODE_RE
    from tests.factories import MemberFactory

    known = MemberFactory(phone="+8613700137000", name="老会员")
    PointsEntry.objects.create(
        member=known, kind="adjust", points=50, balance_after=50, idempotency_key="seed"
    )
    type(known).objects.filter(pk=known.pk).update(points_balance=50)
    taken = MemberFactory(phone="+8613600136000").code
    # The first code drawn is taken already: it must be drawn again, not fail or duplicate.
    draws = iter([taken])
    real_generate = members.member_code_generate
    monkeypatch.setattr(
        members, "member_code_generate", lambda: next(draws, None) or real_generate()
    )
    # A counter enrols one of the file's phones after the look-up, before the insert.
    real_insert = members.insert_arrays

    def insert_after_a_counter_enrols(*args, **kwargs):
        if not Member.objects.filter(phone="+8613900139002").exists():
            members.member_enrol(phone="13900139002", name="柜台")
        return real_insert(*args, **kwargs)

    monkeypatch.setattr(members, "insert_arrays", insert_after_a_counter_enrols)
    text = (
        "phone,name,store,channel,birthday,email,opening_points\n"
        "13900139001,林晓雨,SH01,,1992-05-20,lin@example.com,1280\n"
        "13900139002,王芳,,store,,,300\n"
        '13700137000,改名,,,,,"1,000"\n'
        "13900139003,,,,,,\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, text, kind="members", name="members.csv")
    job = ImportJob.objects.get()
    assert job.status == "ready", job.errors
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    job.refresh_from_db()
    assert job.status == "done" and job.applied_rows == 4 and job.created_records == 2

    lin = Member.objects.get(phone="+8613900139001")
    assert CODE_RE.match(lin.code) and lin.code != taken
    assert (lin.name, lin.store, lin.channel, str(lin.birthday), lin.email) == (
        "林晓雨",
        store_sh,
        "import",
        "1992-05-20",
        "lin@example.com",
    )
    assert lin.phone_last4 == "9001" and lin.tier == Tier.objects.order_by("rank").first()
    assert lin.lifecycle_stage == "prospect" and lin.points_balance == 1280
    counter = Member.objects.get(phone="+8613900139002")
    assert counter.name == "柜台" and counter.points_balance == 300  # found, not duplicated
    known.refresh_from_db()
    assert known.name == "老会员" and known.points_balance == 1050  # existing: balance only
    blank = Member.objects.get(phone="+8613900139003")
    assert blank.points_balance == 0 and not PointsEntry.objects.filter(member=blank).exists()
    assert len({m.code for m in Member.objects.all()}) == Member.objects.count()

    entry = PointsEntry.objects.get(
        member=known, kind="adjust", idempotency_key__startswith="import"
    )
    assert (entry.points, entry.balance_after) == (1000, 1050) and "members.csv" in entry.reason
    assert entry.expires_at is not None and entry.actor_id is not None
    call_command("ledger_verify")  # exits non-zero on any mismatch

    audit = AuditEntry.objects.filter(target_type="members.member")
    assert set(audit.filter(action="member.enrolled").values_list("target_id", flat=True)) == {
        str(lin.pk),
        str(blank.pk),
        str(counter.pk),
    }  # the counter's own enrolment included
    lin_audit = audit.get(action="member.enrolled", target_id=str(lin.pk))
    assert lin_audit.after["store"] == str(store_sh) and lin_audit.actor_id is not None
    adjusted = audit.get(action="points.adjusted", target_id=str(known.pk))
    assert adjusted.before == {"points_balance": 50} and adjusted.after["points_balance"] == 1050
    assert {lin.pk, blank.pk} <= set(enrolled_ids)

    # The same file applied again (a second upload) books a second opening balance, no members.
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, text, kind="members", name="again.csv")
    again = ImportJob.objects.order_by("-id").first()
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(f"/console/members/imports/{again.pk}/apply/")
    again.refresh_from_db()
    assert again.status == "done" and again.created_records == 0
    lin.refresh_from_db()
    assert lin.points_balance == 2560 and Member.objects.count() == 5


def test_member_rows_with_bad_email_birthday_or_points_are_named(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks
):
    text = (
        "phone,birthday,email,opening_points\n"
        "13900139001,2099-01-01,,\n"
        "13900139002,,not-an-email,\n"
        "13900139003,,,999999999999\n"
        "13900139004,,,-5\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, text, kind="members", name="members.csv")
    job = ImportJob.objects.get()
    assert job.status == "invalid"
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (2, "birthday"),
        (3, "email"),
        (4, "opening_points"),
        (5, "opening_points"),
    ]


@pytest.mark.parametrize("kind", ["orders", "members"])
def test_the_sample_files_download_and_check_clean(
    operator_client, store_sh, eager, django_capture_on_commit_callbacks, kind
):
    from tests.factories import MemberFactory

    page = operator_client.get("/console/members/imports/").content.decode()
    assert f"/console/members/imports/sample-{kind}.csv" in page
    r = operator_client.get(f"/console/members/imports/sample-{kind}.csv")
    assert r.status_code == 200 and "attachment" in r["Content-Disposition"]
    text = r.content.decode("utf-8-sig")
    if kind == "orders":  # the sample names a member code: it must exist to check clean
        MemberFactory(code="M7K2Q9P")
    with django_capture_on_commit_callbacks(execute=True):
        upload(operator_client, text, kind=kind, name=f"{kind}.csv")
    job = ImportJob.objects.get()
    assert job.status == "ready", job.errors


def test_a_binary_file_named_csv_is_refused_with_a_clear_message(
    operator_client, eager, django_capture_on_commit_callbacks
):
    xlsx = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x00\x00binary"
    with django_capture_on_commit_callbacks(execute=True):
        operator_client.post(
            "/console/members/imports/",
            {"kind": "orders", "file": SimpleUploadedFile("orders.csv", xlsx, "text/csv")},
        )
    job = ImportJob.objects.get()
    assert job.status == "invalid" and job.errors[0]["field"] == "file"
    assert "CSV" in job.errors[0]["message"]
    page = operator_client.get(f"/console/members/imports/{job.pk}/").content.decode()
    assert job.errors[0]["message"] in page
