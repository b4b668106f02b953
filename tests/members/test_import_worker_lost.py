"""Imports survive a dead worker. A real Celery worker (``scrm``'s app, in a subprocess on the test
database and a Redis database and key prefix of its own) is killed with SIGKILL while it applies
a file: nothing of the file is applied, the job is failed by the reaper or the redelivered task
(never left at "applying"), a late delivery does nothing, and the file applied again is applied
exactly once. Plus the claim, the reaper and the liveness rules on their own."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import AuditEntry
from members import tasks
from members.models import ImportJob, Member, Order, PointsEntry
from members.services import imports

ROOT = Path(__file__).resolve().parent.parent.parent
QUEUE = "test-import-worker-lost"
ORDERS = 600  # one line each, for 100 members
CHUNK = 50  # orders per step of the apply in the worker: 12 steps
STEP_DELAY = 0.2  # seconds the worker waits after each step, to be killed in the middle
STOPPED = "The worker applying this import stopped. Apply it again."

# The worker: scrm's Celery app with the apply's steps small and slowed, on its own broker.
WORKER = """
import os, time, django
django.setup()
from members.services import imports
imports.IMPORT_CHUNK = int(os.environ["WL_CHUNK"])
_progress = imports._progress
def _slow_progress(job_id, phase, done, total):
    _progress(job_id, phase, done, total)
    if phase == "applying" and done:
        time.sleep(float(os.environ["WL_DELAY"]))
imports._progress = _slow_progress
from scrm.celery import app
app.conf.broker_url = os.environ["WL_BROKER"]
app.conf.broker_transport_options = {
    "global_keyprefix": os.environ["WL_PREFIX"],
    "visibility_timeout": float(os.environ["WL_VISIBILITY"]),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
app.worker_main([
    "worker", "--pool", os.environ["WL_POOL"], "--concurrency", "1", "-Q", os.environ["WL_QUEUE"],
    "-n", os.environ["WL_NAME"] + "@%h", "--without-mingle", "--without-gossip", "-l", "INFO",
])
"""


def _broker_url() -> str:
    # A database apart from the cache's (flushed between tests, by parallel runs too) and from
    # the suite's broker; the key prefix keeps this test's queue apart within it.
    url = urlsplit(settings.REDIS_URL)
    db = int((url.path or "/0").strip("/") or 0)
    return urlunsplit(url._replace(path=f"/{(db + 8) % 16}"))


BROKER = _broker_url() if settings.REDIS_URL else ""
PREFIX = f"scrm-test-worker-lost-{os.getpid()}:"


class Worker:
    def __init__(self, log: Path, name: str, *, pool: str = "solo", visibility: float = 3600):
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
            "WL_CHUNK": str(CHUNK),
            "WL_DELAY": str(STEP_DELAY),
            "WL_BROKER": BROKER,
            "WL_PREFIX": PREFIX,
            "WL_VISIBILITY": str(visibility),
            "WL_POOL": pool,
            "WL_QUEUE": QUEUE,
            "WL_NAME": name,
        }
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", WORKER],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its pool's children go with it at the end
            )
        self.wait_log(" ready.")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, needle: str, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.text().count(needle) < count:
            assert self.proc.poll() is None, self.text()[-3000:]
            assert time.monotonic() < deadline, f"no {needle!r} x{count}:\n{self.text()[-3000:]}"
            time.sleep(0.05)

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        assert self.proc.wait(timeout=10) == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def workers(tmp_path):
    # make test gives the suite both; these tests are not in the SQLite job (no sqlite mark)
    assert BROKER and connection.vendor == "postgresql", "a real worker needs PostgreSQL and Redis"
    import redis

    client = redis.Redis.from_url(BROKER)
    started: list[Worker] = []

    def start(name: str, **kwargs) -> Worker:
        worker = Worker(tmp_path / f"{name}.log", name, **kwargs)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
    for key in client.scan_iter(match=f"{PREFIX}*"):
        client.delete(key)


def send_apply(job: ImportJob, actor_id: int | None, language: str = "en") -> None:
    from kombu import Connection

    with Connection(BROKER, transport_options={"global_keyprefix": PREFIX}) as conn:
        tasks.import_apply.apply_async(
            (job.pk, job.skip_bad_rows, actor_id),
            {"language": language},
            queue=QUEUE,
            connection=conn,
        )


def orders_csv(n: int = ORDERS) -> str:
    day = timezone.localdate() - timedelta(days=10)
    return "source,external_id,member,store,placed_at,sku,quantity,amount\n" + "".join(
        f"pos,WL-{k},1390000{k % 100:04d},SH01,{day} 10:{k % 60:02d},MASK,1,100.00\n"
        for k in range(n)
    )


def ready_job(operator, n: int = ORDERS) -> ImportJob:
    from django.utils import translation

    with translation.override("en"):  # the job's messages are in its uploader's language
        job = imports.import_create(
            kind=ImportJob.Kind.ORDERS,
            upload=SimpleUploadedFile("orders.csv", orders_csv(n).encode()),
            actor=operator,
        )
    job = imports.import_validate(job_id=job.pk)
    assert job.status == ImportJob.Status.READY, job.errors[:3]
    return job


def wait_for(condition, timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_mid_apply(job: ImportJob) -> ImportJob:
    """Until the worker claimed the job and applied three steps, uncommitted."""

    def mid() -> bool:
        progress = imports.import_progress(job)
        return progress["phase"] == "applying" and progress["done"] >= 3 * CHUNK

    wait_for(mid, what="the apply to be half way")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.APPLYING and job.claimed_by
    return job


def reap_until_failed(job: ImportJob) -> int:
    """The reaper, until the dead worker's server session has ended (a few milliseconds)."""
    reaped = 0

    def failed() -> bool:
        nonlocal reaped
        reaped += imports.imports_fail_abandoned()
        return ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.FAILED

    wait_for(failed, timeout=10, what="the reaper to fail the job")
    return reaped


def file_rows():
    return Order.objects.filter(source="pos", external_id__startswith="WL-")


def assert_applied_once(job: ImportJob, n: int = ORDERS) -> None:
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.applied_rows == n, job.message
    assert file_rows().count() == n
    assert PointsEntry.objects.filter(kind="earn", order__in=file_rows()).count() == n
    members = Member.objects.filter(phone__startswith="+86139000")
    assert members.count() == min(n, 100)
    assert members.aggregate(s=Sum("purchase_count"))["s"] == n
    booked = PointsEntry.objects.filter(member__in=members).aggregate(s=Sum("points"))["s"]
    assert members.aggregate(s=Sum("points_balance"))["s"] == booked >= n * 100
    applied = AuditEntry.objects.filter(action="import.applied", target_id=str(job.pk))
    assert applied.count() == 1


def assert_failed_nothing_applied(job: ImportJob) -> None:
    job.refresh_from_db()
    assert job.status == ImportJob.Status.FAILED and job.can_apply_again
    assert job.message == STOPPED
    assert not file_rows().exists()
    assert not Member.objects.filter(phone__startswith="+86139000").exists()
    abandoned = AuditEntry.objects.get(action="import.abandoned", target_id=str(job.pk))
    assert abandoned.via == AuditEntry.Via.SYSTEM and abandoned.actor is None
    assert abandoned.before["claimed_by"] and abandoned.after["reason"] == "worker_stopped"


# --- A real worker, killed ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_apply_applies_nothing_and_the_file_applied_again_counts_once(
    workers, operator, store_sh, operator_client, monkeypatch
):
    job = ready_job(operator)
    first = workers("wl1")
    job = imports.import_confirm(job_id=job.pk, skip_bad_rows=False, language="en")
    send_apply(job, operator.pk)
    job = wait_mid_apply(job)
    assert not file_rows().exists()  # three steps in, none committed
    first.kill()

    # Without the reaper the job would stay at "applying" for ever: its message is in Redis,
    # not acknowledged, until the visibility timeout (45 minutes).
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.APPLYING
    assert reap_until_failed(job) == 1
    assert_failed_nothing_applied(job)
    page = operator_client.get(f"/console/members/imports/{job.pk}/").content.decode()
    assert 'data-status="failed"' in page and STOPPED in page
    assert f'action="/console/members/imports/{job.pk}/apply/"' in page  # "Apply again"

    # A worker starts; Redis gives it the killed worker's message again (a short visibility
    # timeout here): the job failed and waits for the operator, so the late delivery does nothing.
    second = workers("wl2", visibility=1)
    second.wait_log("succeeded")
    assert_failed_nothing_applied(job)

    # The operator applies it again from the page, through the same confirm and task.
    monkeypatch.setattr(
        "members.views.console.imports.tasks",
        SimpleNamespace(
            import_apply=SimpleNamespace(
                delay_on_commit=lambda pk, skip, actor_id, language: transaction.on_commit(
                    lambda: send_apply(ImportJob.objects.get(pk=pk), actor_id, language)
                )
            )
        ),
    )
    r = operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    assert r.status_code == 302
    wait_for(
        lambda: ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.DONE,
        what="the second apply",
    )
    assert_applied_once(job)

    # One more delivery of the same task (a duplicate from the broker): nothing happens.
    send_apply(job, operator.pk)
    second.wait_log("succeeded", count=3)
    assert_applied_once(job)
    from django.core.management import call_command

    call_command("ledger_verify")


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_killed_mid_apply_is_put_back_and_the_job_fails_not_sticks(
    workers, operator, store_sh
):
    """Prefork: the child is killed, the worker rejects the message back to the queue (reject on
    worker lost) and a new child gets it at once. That delivery, or the reaper, fails the job."""
    job = ready_job(operator)
    worker = workers("wl3", pool="prefork")
    job = imports.import_confirm(job_id=job.pk, skip_bad_rows=False, language="en")
    send_apply(job, operator.pk)
    job = wait_mid_apply(job)
    child = int(job.claimed_by.split(":")[1])
    assert child != worker.proc.pid
    os.kill(child, signal.SIGKILL)

    worker.wait_log("] received", count=2)  # received again...
    worker.wait_log("succeeded")  # ...and done with: failed it, or found the lock still held
    reap_until_failed(job)
    assert_failed_nothing_applied(job)

    job = imports.import_confirm(job_id=job.pk, skip_bad_rows=False, language="en")
    send_apply(job, operator.pk)
    wait_for(
        lambda: ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.DONE,
        what="the second apply",
    )
    assert_applied_once(job)


# --- The claim, the reaper, liveness -----------------------------------------------------------


@pytest.fixture
def slow_steps(monkeypatch):
    """Each step of an apply in this process waits until the test lets it go on."""
    go = threading.Event()
    real = imports._progress

    def progress(job_id, phase, done, total):
        real(job_id, phase, done, total)
        if phase == "applying" and done:
            assert go.wait(20)

    monkeypatch.setattr(imports, "IMPORT_CHUNK", 10)
    monkeypatch.setattr(imports, "_progress", progress)
    return go


def in_thread(fn, *args, **kwargs) -> tuple[threading.Thread, list]:
    out: list = []

    def run() -> None:
        try:
            out.append(fn(*args, **kwargs))
        except BaseException as exc:  # the test reads it
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_at_once_apply_the_file_once(operator, store_sh, slow_steps):
    job = ready_job(operator, n=40)
    imports.import_confirm(job_id=job.pk, skip_bad_rows=False)
    first, got_first = in_thread(
        imports.import_apply, job_id=job.pk, skip_bad_rows=False, actor=None
    )
    wait_for(lambda: ImportJob.objects.get(pk=job.pk).claimed_by, what="the first claim")
    # The second delivery while the first applies: it does nothing and returns at once.
    second = imports.import_apply(job_id=job.pk, skip_bad_rows=False, actor=None)
    assert second.status == ImportJob.Status.APPLYING
    assert second.claimed_by == ImportJob.objects.get(pk=job.pk).claimed_by
    slow_steps.set()
    first.join(30)
    assert got_first[0].status == ImportJob.Status.DONE
    assert_applied_once(job, n=40)


@pytest.mark.django_db(transaction=True)
def test_two_claims_racing_for_a_ready_job_give_it_to_one(operator, store_sh):
    """The claim is one conditional update: of two sessions past the lock at once (SQLite has
    none), one takes the job and the other gets nothing."""
    job = ready_job(operator, n=5)
    barrier = threading.Barrier(2)

    def claim():
        barrier.wait(5)
        return imports._claim(job_id=job.pk, skip_bad_rows=False)

    threads = [in_thread(claim) for _ in range(2)]
    for thread, _out in threads:
        thread.join(10)
    claims = [out[0] for _thread, out in threads]
    assert sum(c is not None for c in claims) == 1, claims
    winner = next(c for c in claims if c is not None)
    assert ImportJob.objects.get(pk=job.pk).claimed_by == winner.claimed_by


@pytest.mark.django_db(transaction=True)
def test_the_reaper_leaves_a_live_apply_alone(operator, store_sh, slow_steps):
    job = ready_job(operator, n=40)
    imports.import_confirm(job_id=job.pk, skip_bad_rows=False)
    thread, out = in_thread(imports.import_apply, job_id=job.pk, skip_bad_rows=False, actor=None)
    wait_for(lambda: imports.import_progress(job)["done"] >= 10, what="a step")
    assert imports.imports_fail_abandoned() == 0
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.APPLYING
    slow_steps.set()
    thread.join(30)
    assert out[0].status == ImportJob.Status.DONE
    assert_applied_once(job, n=40)
    assert not AuditEntry.objects.filter(action="import.abandoned").exists()


@pytest.mark.django_db
def test_the_reaper_fails_a_job_whose_worker_is_gone_and_the_page_applies_it_again(
    operator, store_sh, operator_client, django_capture_on_commit_callbacks
):
    from scrm.celery import app

    job = ready_job(operator, n=20)
    imports.import_confirm(job_id=job.pk, skip_bad_rows=False, language="en")
    # Claimed by a worker that died: nobody holds the job's lock.
    ImportJob.objects.filter(pk=job.pk).update(claimed_by="gone:4242:x", claimed_at=timezone.now())
    assert imports.imports_fail_abandoned() == 1
    job.refresh_from_db()
    assert (job.status, job.message, job.can_apply_again) == ("failed", STOPPED, True)
    assert imports.imports_fail_abandoned() == 0  # once
    audit = AuditEntry.objects.get(action="import.abandoned")
    assert audit.target_id == str(job.pk) and audit.before["claimed_by"] == "gone:4242:x"

    # A late delivery of the first apply: the job waits for the operator, nothing happens.
    assert imports.import_apply(job_id=job.pk, skip_bad_rows=False, actor=None).status == "failed"
    assert not file_rows().exists()

    page = operator_client.get(f"/console/members/imports/{job.pk}/").content.decode()
    assert STOPPED in page and f'action="/console/members/imports/{job.pk}/apply/"' in page
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    finally:
        app.conf.task_always_eager = False
    assert_applied_once(job, n=20)
    # Applied: neither the page nor a late delivery applies it a second time.
    r = operator_client.post(f"/console/members/imports/{job.pk}/apply/")
    assert r.status_code == 302
    imports.import_apply(job_id=job.pk, skip_bad_rows=False, actor=None)
    assert_applied_once(job, n=20)


@pytest.mark.django_db
@pytest.mark.sqlite
def test_a_confirmed_job_no_worker_takes_is_failed_after_hours_not_minutes(operator, store_sh):
    job = ready_job(operator, n=3)
    imports.import_confirm(job_id=job.pk, skip_bad_rows=False)
    assert imports.imports_fail_abandoned() == 0  # waiting in the queue behind other work
    ImportJob.objects.filter(pk=job.pk).update(
        claimed_at=timezone.now() - timedelta(seconds=imports.WAITING_AT_MOST_SECONDS + 60),
        language="en",  # the message is written in the uploader's language
    )
    assert imports.imports_fail_abandoned() == 1
    job.refresh_from_db()
    assert job.status == "failed" and job.can_apply_again and "No worker" in job.message
    assert AuditEntry.objects.get(action="import.abandoned").after["reason"] == "never_taken"


@pytest.mark.django_db
@pytest.mark.sqlite
def test_a_file_failed_on_its_rows_is_not_applied_again_but_one_whose_worker_stopped_is(
    operator, store_sh
):
    from scrm.exceptions import ApplicationError

    job = ready_job(operator, n=3)
    ImportJob.objects.filter(pk=job.pk).update(status="failed", can_apply_again=False)
    with pytest.raises(ApplicationError):
        imports.import_confirm(job_id=job.pk, skip_bad_rows=False)
    ImportJob.objects.filter(pk=job.pk).update(can_apply_again=True)
    job = imports.import_confirm(job_id=job.pk, skip_bad_rows=False, language="en")
    assert (job.status, job.claimed_by, job.can_apply_again, job.language) == (
        "applying",
        "",
        False,
        "en",
    )
    with pytest.raises(ApplicationError) as twice:  # a second click while it waits
        imports.import_confirm(job_id=job.pk, skip_bad_rows=False)
    assert twice.value.code == "import_already_applied"


@pytest.mark.django_db
@pytest.mark.sqlite
def test_the_reaper_tells_a_gone_claim_by_its_lock_on_postgresql_and_its_process_on_sqlite(
    operator, store_sh
):
    """Two claims, one by a live process and one by a dead one, neither holding the job's lock.
    The process check tells them apart on any database; SQLite (no advisory locks) fails only the
    dead one, PostgreSQL fails both: no session holds their locks, so no worker applies them
    (a live apply holding its lock is test_the_reaper_leaves_a_live_apply_alone)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    live, gone = ready_job(operator, n=3), ready_job(operator, n=3)
    for job, pid in ((live, os.getpid()), (gone, dead.pid)):
        imports.import_confirm(job_id=job.pk, skip_bad_rows=False, language="en")
        ImportJob.objects.filter(pk=job.pk).update(
            claimed_by=f"{host}:{pid}:t", claimed_at=timezone.now()
        )
    claims = {j.pk: ImportJob.objects.get(pk=j.pk) for j in (live, gone)}
    assert not imports._claimant_gone(claims[live.pk]) and imports._claimant_gone(claims[gone.pk])
    if connection.vendor == "postgresql":
        assert imports.imports_fail_abandoned() == 2
        assert ImportJob.objects.get(pk=live.pk).status == ImportJob.Status.FAILED
    else:
        assert imports.imports_fail_abandoned() == 1
        assert ImportJob.objects.get(pk=live.pk).status == ImportJob.Status.APPLYING
    assert ImportJob.objects.get(pk=gone.pk).message == STOPPED
    # A second delivery for the live one does nothing; for the failed one, nothing either.
    for job in (live, gone):
        before = ImportJob.objects.get(pk=job.pk)
        after = imports.import_apply(job_id=job.pk, skip_bad_rows=False, actor=None)
        assert (after.status, after.claimed_by) == (before.status, before.claimed_by)
    assert not file_rows().exists()


def test_without_the_lock_a_claim_lives_while_its_process_does_and_not_past_the_time_limit():
    """SQLite's liveness rule: the claimant's process on this machine, else the claim's age."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    now = timezone.now()
    host = socket.gethostname()
    limit = settings.SCRM_IMPORT_TIME_LIMIT + imports.CLAIM_STALE_AFTER_SECONDS

    def gone(claimed_by: str, age: float = 0) -> bool:
        job = ImportJob(claimed_by=claimed_by, claimed_at=now - timedelta(seconds=age))
        return imports._claimant_gone(job)

    assert not gone(f"{host}:{os.getpid()}:t")
    assert gone(f"{host}:{dead.pid}:t")
    assert not gone("another-host:1:t")  # can't look: alive until the time limit...
    assert gone("another-host:1:t", age=limit + 1)  # ...past it no worker still applies it
    assert gone(f"{host}:{os.getpid()}:t", age=limit + 1)


def test_the_broker_waits_longer_than_the_longest_import_may_run():
    from scrm.celery import app
    from scrm.settings import base

    assert base.CELERY_TASK_ACKS_LATE and base.CELERY_TASK_REJECT_ON_WORKER_LOST
    if base.CELERY_BROKER_URL.startswith("redis"):
        assert (
            base.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
            == base.SCRM_BROKER_VISIBILITY_TIMEOUT
        )
    assert (
        base.SCRM_IMPORT_SOFT_TIME_LIMIT
        < base.SCRM_IMPORT_TIME_LIMIT
        < base.SCRM_BROKER_VISIBILITY_TIMEOUT
    )
    assert tasks.import_apply.time_limit == settings.SCRM_IMPORT_TIME_LIMIT
    assert tasks.import_apply.soft_time_limit == settings.SCRM_IMPORT_SOFT_TIME_LIMIT
    schedule = {e["task"]: e["schedule"] for e in app.conf.beat_schedule.values()}
    assert schedule["members.tasks.imports_fail_abandoned"] <= 60
