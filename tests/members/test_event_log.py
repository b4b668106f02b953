"""The durable event log: written in the change's transaction, delivered to every consumer at
least once and effectively once, a member's events in order, none skipped when ids commit out of
order, nothing lost when a process dies after its commit. On PostgreSQL, with real threads and a
real killed process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import DatabaseError, connection, transaction

from members import events
from members.models import Event, EventConsumer, EventEarlyDelivery, ImportJob, Member
from tests.factories import MemberFactory
from tests.members.helpers import buy

ROOT = Path(__file__).resolve().parent.parent.parent


class Recorder:
    """A consumer's handler that remembers what it got, in order, from any thread."""

    def __init__(self, fail_times: int = 0) -> None:
        self.got: list[tuple[int, int | None, str]] = []
        self.fail_times = fail_times
        self.lock = threading.Lock()

    def __call__(self, batch) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("the consumer's handler broke")
        with self.lock:
            self.got += [(e.pk, e.member_id, e.type) for e in batch]

    @property
    def ids(self) -> list[int]:
        return [pk for pk, _m, _t in self.got]


@pytest.fixture
def consumer(monkeypatch):
    """Registers test consumers; the registry is as it was after the test."""
    monkeypatch.setattr(events, "_consumers", dict(events._consumers))

    def register(name="test.consumer", *, start="beginning", **kw) -> Recorder:
        recorder = Recorder(kw.pop("fail_times", 0))
        events.consumer_register(name, recorder, start=start, **kw)
        return recorder

    return register


@pytest.mark.django_db
@pytest.mark.sqlite
def test_an_event_is_written_in_the_transaction_of_its_change(member):
    with pytest.raises(RuntimeError), transaction.atomic():
        buy(member, 100)
        assert Event.objects.filter(member=member, type=events.ORDER_INGESTED).exists()
        raise RuntimeError("the order's transaction rolls back")
    assert not Event.objects.filter(member=member).exists()
    buy(member, 100)
    types = list(Event.objects.filter(member=member).values_list("type", flat=True))
    assert types == [events.ORDER_INGESTED, events.LIFECYCLE_CHANGED]  # prospect -> first


@pytest.mark.django_db
def test_the_log_is_append_only(member):
    buy(member, 100)
    event = Event.objects.filter(member=member).first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).update(type="changed")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Event.objects.filter(pk=event.pk).delete()


@pytest.mark.django_db
@pytest.mark.sqlite
def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        events.event_record("no_such_thing", member_id=None)


@pytest.mark.django_db
@pytest.mark.sqlite
def test_an_order_logs_what_it_caused_in_the_order_it_happened(member):
    for _ in range(4):
        buy(member, 100)
    buy(member, 100)  # the 5th: the gift
    rows = list(
        Event.objects.filter(member=member).exclude(type="lifecycle_changed").order_by("id")
    )
    assert [e.type for e in rows] == [
        "order_ingested",
        "order_ingested",
        "order_ingested",
        "tier_changed",  # the 3rd purchase: VIP
        "order_ingested",
        "order_ingested",
        "milestone_reached",
        "gift_granted",
    ]
    assert rows[3].payload["to_code"] == "vip" and rows[3].payload["cause"] == "order"
    assert rows[-1].payload["milestone_code"] == "gift_5th_purchase"
    assert rows[-2].payload["order_id"] == rows[-3].payload["order_id"]


@pytest.mark.django_db
@pytest.mark.sqlite
def test_a_consumer_in_the_writing_transaction_sees_its_own_events_once(member, consumer):
    got = consumer(types={events.ORDER_INGESTED})
    buy(member, 100)
    assert events.events_drain("test.consumer", include_own_transaction=True) == 1
    assert events.events_drain("test.consumer", include_own_transaction=True) == 0
    assert [t for _pk, _m, t in got.got] == ["order_ingested"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.sqlite
def test_a_new_consumer_starts_now_unless_it_asks_for_the_beginning(consumer):
    member = MemberFactory()
    buy(member, 100)
    late = consumer("test.late", start="now", types={events.ORDER_INGESTED})
    full = consumer("test.full", start="beginning", types={events.ORDER_INGESTED})
    events.events_drain("test.late")
    events.events_drain("test.full")
    assert late.got == [] and [t for *_x, t in full.got] == ["order_ingested"]
    buy(member, 120)
    events.events_drain("test.late")
    assert [t for *_x, t in late.got] == ["order_ingested"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.sqlite
def test_a_consumer_can_ask_for_some_types_only(consumer):
    tiers = consumer("test.tiers", types={events.TIER_CHANGED})
    member = MemberFactory()
    for _ in range(3):
        buy(member, 100)
    events.events_drain("test.tiers")
    assert [(m, t) for _pk, m, t in tiers.got] == [(member.pk, "tier_changed")]


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_late_with_a_lower_id_is_not_skipped(consumer):
    """T1 draws the lower id but commits after T2: a bare "last id seen" cursor would read T2's
    event, move past T1's id, and never see T1's event."""
    got = consumer()
    a, b = MemberFactory(), MemberFactory()
    t1_wrote, t2_done, release = threading.Event(), threading.Event(), threading.Event()

    def t1() -> None:
        try:
            with transaction.atomic():
                events.event_record(events.MEMBER_ERASED, member_id=a.pk)
                t1_wrote.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=t1)
    thread.start()
    t1_wrote.wait(10)
    with transaction.atomic():
        events.event_record(events.MEMBER_ERASED, member_id=b.pk)
    t2_done.set()
    events.events_drain("test.consumer")
    assert got.got == []  # T1 is still running: nothing of a later transaction is handed over
    release.set()
    thread.join()
    events.events_drain("test.consumer")
    assert sorted(m for _pk, m, _t in got.got) == sorted([a.pk, b.pk])
    ids = got.ids
    assert ids == sorted(ids) and len(set(ids)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_members_events_keep_their_order_when_transactions_finish_out_of_order(consumer):
    """B's transaction gets its id first, then waits while A (same member) commits; an unrelated
    long transaction C holds the horizon between them. Reading by transaction age alone would hand
    over B (the later event) first: the batch takes A along, and never hands A over twice."""
    got = consumer()
    member, other = MemberFactory(), MemberFactory()
    b_started, c_started, a_done, c_release = (threading.Event() for _ in range(4))

    def tx_b() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")  # B's id: the oldest
                b_started.set()
                a_done.wait(10)
                events.event_record(events.MEMBER_ERASED, member_id=member.pk, step="B")
        finally:
            connection.close()

    def tx_c() -> None:
        try:
            b_started.wait(10)
            with transaction.atomic():
                events.event_record(events.MEMBER_ERASED, member_id=other.pk, step="C")
                c_started.set()
                c_release.wait(10)
        finally:
            connection.close()

    threads = [threading.Thread(target=tx_b), threading.Thread(target=tx_c)]
    for t in threads:
        t.start()
    c_started.wait(10)
    with transaction.atomic():  # A: after B and C got their ids, committed before B writes
        events.event_record(events.MEMBER_ERASED, member_id=member.pk, step="A")
    a_done.set()
    threads[0].join()
    events.events_drain("test.consumer")
    steps = [Event.objects.get(pk=pk).payload["step"] for pk in got.ids]
    assert steps == ["A", "B"]  # B is past the horizon; A came along with it, first
    assert EventEarlyDelivery.objects.count() == 1
    c_release.set()
    threads[1].join()
    events.events_drain("test.consumer")
    steps = [Event.objects.get(pk=pk).payload["step"] for pk in got.ids]
    assert steps == ["A", "B", "C"]  # and A was not handed over again
    assert EventEarlyDelivery.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_and_a_consumer_every_event_exactly_once_in_member_order(
    consumer,
):
    got = consumer(batch_size=37)
    members = [MemberFactory() for _ in range(12)]
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(25):
                with transaction.atomic():
                    chosen = [rng.choice(members) for _k in range(rng.randint(1, 4))]
                    # as every service does: a change to a member holds the member's row lock
                    # until it commits (members.services.member_lock), in one order (no deadlock)
                    list(
                        Member.objects.select_for_update()
                        .filter(pk__in={m.pk for m in chosen})
                        .order_by("pk")
                        .values_list("pk", flat=True)
                    )
                    for m in chosen:
                        events.event_record(events.MEMBER_ERASED, member_id=m.pk, w=seed)
                    time.sleep(rng.random() * 0.01)  # ids drawn now, committed a little later
        finally:
            connection.close()

    def reader() -> None:
        try:
            while not stop.is_set():
                events.events_deliver("test.consumer")
        finally:
            connection.close()

    readers = [threading.Thread(target=reader) for _ in range(2)]  # two workers, one consumer
    writers = [threading.Thread(target=writer, args=(s,)) for s in range(8)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    events.events_drain("test.consumer")
    all_ids = sorted(Event.objects.filter(type=events.MEMBER_ERASED).values_list("id", flat=True))
    assert len(all_ids) >= 8 * 25
    assert sorted(got.ids) == all_ids  # every event, none skipped
    assert len(got.ids) == len(set(got.ids))  # and each once
    for m in members:
        mine = [pk for pk, member_id, _t in got.got if member_id == m.pk]
        assert mine == sorted(mine), m.pk  # a member's events in the order they were written
    state = EventConsumer.objects.get(name="test.consumer")
    assert state.delivered == len(all_ids)


@pytest.mark.django_db(transaction=True)
@pytest.mark.sqlite
def test_a_failing_handler_keeps_its_place_and_gets_the_batch_again(consumer):
    got = consumer(fail_times=2, types={events.ORDER_INGESTED})
    member = MemberFactory()
    buy(member, 100)
    assert events.events_deliver("test.consumer") == 0
    assert events.events_deliver("test.consumer") == 0
    state = EventConsumer.objects.get(name="test.consumer")
    assert state.failures == 2 and "handler broke" in state.last_error
    assert events.events_deliver("test.consumer") == 1
    assert [t for *_x, t in got.got] == ["order_ingested"]
    state.refresh_from_db()
    assert state.failures == 0 and state.last_error == ""


@pytest.mark.django_db(transaction=True)
def test_a_broken_consumer_cannot_fail_a_committed_import(consumer, operator, store_sh):
    """Before the log, a listener that raised after commit marked the committed import failed and
    dropped the later callbacks. Now the import is done; the broken consumer only reports, and a
    working one gets every event."""
    consumer("test.broken", fail_times=10**6)
    good = consumer("test.good", types={events.ORDER_INGESTED, events.MEMBER_ENROLLED})
    from django.core.files.uploadedfile import SimpleUploadedFile

    from members.services.imports import import_apply, import_create, import_validate

    rows = "source,external_id,member,store,placed_at,sku,quantity,amount\n" + "".join(
        f"pos,IMP-{k},1390000{k:04d},SH01,2026-11-0{1 + k % 5} 10:00,MASK,1,100.00\n"
        for k in range(6)
    )
    job = import_create(
        kind=ImportJob.Kind.ORDERS,
        upload=SimpleUploadedFile("orders.csv", rows.encode()),
        actor=operator,
    )
    import_validate(job_id=job.pk)
    job = import_apply(job_id=job.pk, skip_bad_rows=False, actor=operator)
    assert job.status == ImportJob.Status.DONE and job.applied_rows == 6
    assert events.events_drain("test.broken") == 0
    assert EventConsumer.objects.get(name="test.broken").failures >= 1
    events.events_drain("test.good")
    kinds = [t for *_x, t in good.got]
    assert kinds.count("order_ingested") == 6 and kinds.count("member_enrolled") == 6


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_right_after_its_commit_loses_no_event(consumer):
    """A real process books an order and is killed with SIGKILL at once: nothing in it handled the
    order after its commit. The consumer, in another process, still gets every event."""
    got = consumer(types={events.ORDER_INGESTED, events.TIER_CHANGED})
    member = MemberFactory(code="MKILL99")
    for _ in range(2):
        buy(member, 100)
    events.events_drain("test.consumer")
    before = len(got.got)
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    script = (
        "import os, signal, django; django.setup()\n"
        "from decimal import Decimal\n"
        "from django.utils import timezone\n"
        "from members.services import LineIn, OrderIn, order_ingest\n"
        "order_ingest(data=OrderIn(source='pos', external_id='KILL-1', member='MKILL99',"
        " placed_at=timezone.now(), total=Decimal(100),"
        " lines=[LineIn(sku='K', quantity=1, amount=Decimal(100))]), hash_='k')\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
    }
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert Member.objects.get(pk=member.pk).purchase_count == 3
    events.events_drain("test.consumer")
    new = [t for *_x, t in got.got[before:]]
    assert new == ["order_ingested", "tier_changed"]


@pytest.mark.django_db(transaction=True)
def test_the_periodic_task_delivers_to_every_registered_consumer(consumer):
    from members import tasks

    one = consumer("test.one", types={events.ORDER_INGESTED})
    two = consumer("test.two", types={events.ORDER_INGESTED})
    member = MemberFactory()
    buy(member, 100)
    for c in events.consumers():
        if c.name.startswith("test."):
            tasks.events_deliver.run(c.name)
    assert len(one.got) == len(two.got) == 1
    assert tasks.events_deliver.run("test.unknown") == 0


@pytest.mark.django_db
def test_the_event_log_page_lists_events_and_consumers(consumer, admin_client, operator_client):
    consumer("test.page")
    member = MemberFactory()
    buy(member, 100)
    assert operator_client.get("/console/members/events/").status_code == 403
    page = admin_client.get("/console/members/events/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "order_ingested" in body and "test.page" in body and member.code in body
    filtered = admin_client.get(
        "/console/members/events/", {"type": "tier_changed"}, HTTP_HX_REQUEST="true"
    )
    assert filtered.status_code == 200 and "order_ingested" not in filtered.content.decode()
    assert "<html" not in filtered.content.decode()


def test_money_and_times_travel_in_payloads_as_text():
    from datetime import UTC, datetime

    text = events._json({"total": Decimal("0.10"), "at": datetime(2026, 1, 2, tzinfo=UTC)})
    assert text == '{"total": "0.10", "at": "2026-01-02T00:00:00Z"}'
