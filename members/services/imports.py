"""CSV import of orders and members: every row validated first, a downloadable report of row
errors, then applied all at once in one transaction (nothing is applied from a file with errors
unless the operator chooses to skip the bad rows). Rows go through the same services as the API.

A worker may die while it applies a file. The apply claims the job (one claimant, however many
deliveries of its task) and marks it done in the transaction that applied it, so a dead worker
leaves nothing applied and the job at "applying"; ``imports_fail_abandoned`` then fails it with a
message, and the operator may apply it again. Whether the claimant still lives: on PostgreSQL it
holds an advisory lock on the job for as long as it works, released by the server when its session
ends, however the process died; elsewhere (the demo's SQLite) its process id on this machine, or
the claim's age against the task's time limit."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from accounts.models import AuditEntry, Store, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.services import audit_record, audit_record_many
from members.loyalty import EARLIEST_ORDER_YEAR, MAX_ORDER_TOTAL
from members.models import ImportJob, LoyaltySettings, Member, PointsEntry
from members.services.idempotency import request_hash
from members.services.lifecycle import lifecycle_refresh
from members.services.members import member_enrol, member_enrol_many
from members.services.orders import CODE_RE, LineIn, OrderIn
from members.services.points import points_adjust, points_expiry
from scrm.bulk import copy_rows
from scrm.csv_safe import csv_decode, csv_text
from scrm.exceptions import ApplicationError

ORDER_COLUMNS = [
    "source",
    "external_id",
    "member",
    "store",
    "placed_at",
    "sku",
    "name",
    "category",
    "quantity",
    "amount",
]
ORDER_REQUIRED = ["source", "external_id", "member", "placed_at", "sku", "quantity", "amount"]
MEMBER_COLUMNS = ["phone", "name", "store", "channel", "birthday", "email", "opening_points"]
MEMBER_REQUIRED = ["phone"]
MAX_STORED_ERRORS = 5000
MAX_ROWS = 500_000
MAX_OPENING_POINTS = 100_000_000  # a balance column holds 2^31; no brand's member has more
IMPORT_CHUNK = 10_000  # orders per set-based step inside the one import transaction
LIFECYCLE_CHUNK = 5000  # members per lifecycle refresh at the end of an import
MEMBER_CHUNK = 10_000  # member rows per set-based step of a member import
# pg_advisory_lock(APPLY_LOCK_CLASS, job id): held by the session applying the job. The two-key
# form, apart from the one-key locks (lifecycle.LOCK_KEY). Sessions must be the server's own: a
# pooler in transaction mode (PgBouncer) would hand the lock to whichever client comes next.
APPLY_LOCK_CLASS = 0x1A9C  # "import"
# Without the lock (SQLite): a claim older than the task's hard time limit has no live worker.
CLAIM_STALE_AFTER_SECONDS = 5 * 60  # on top of SCRM_IMPORT_TIME_LIMIT
# A confirmed job no worker took (the message lost with the broker's data): failed after this.
WAITING_AT_MOST_SECONDS = 6 * 3600
logger = logging.getLogger("scrm.imports")


def progress_key(job_id: int) -> str:
    return f"scrm:import:{job_id}:progress"


def _progress(job_id: int, phase: str, done: int, total: int) -> None:
    cache.set(progress_key(job_id), {"phase": phase, "done": done, "total": total}, timeout=3600)


def import_progress(job: ImportJob) -> dict[str, Any]:
    return cache.get(progress_key(job.pk)) or {
        "phase": job.status,
        "done": 0,
        "total": job.total_rows,
    }


def _reader(job: ImportJob) -> tuple[list[str], Iterator[dict[str, str]]]:
    job.file.open("rb")
    raw = job.file.read()
    job.file.close()
    text = csv_decode(raw)
    if text is None:  # a spreadsheet or another binary file named .csv
        raise ApplicationError(
            _("This is not a CSV text file. In Excel, save it as “CSV UTF-8” and upload that.")
        )
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    reader.fieldnames = header
    return header, ({k: (v or "").strip() for k, v in row.items() if k} for row in reader)


@dataclass
class _Validated:
    rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: set[int] = field(default_factory=set)
    orders: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    members: list[tuple[int, dict[str, Any]]] = field(default_factory=list)

    def error(self, row: int, column: str, message: str) -> None:
        self.bad_rows.add(row)
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append({"row": row, "field": column, "message": str(message)})


def _decimal(value: str) -> Decimal | None:
    try:
        d = Decimal(value.replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return d if d.is_finite() and d == d.quantize(Decimal("0.01")) else None


def _date(value: str) -> date | None:
    try:
        return parse_date(value)
    except ValueError:  # well formed but no such day, like 1990-02-30
        return None


def _placed_at(value: str, tz: tzinfo) -> datetime | None:
    """An aware time from an ISO date-time or date; a naive one is in ``tz`` (the brand's zone)."""
    placed: datetime | None
    try:
        placed = datetime.fromisoformat(value)  # C: a tenth of parse_datetime's time per row
    except ValueError:
        try:
            placed = parse_datetime(value) or (
                datetime.combine(d, datetime.min.time()) if (d := parse_date(value)) else None
            )
        except ValueError:  # well formed but no such day, like 2026-02-30
            return None
    if placed is not None and placed.tzinfo is None:
        placed = placed.replace(tzinfo=tz)  # what make_aware does for a zoneinfo zone
    return placed


def _validate_orders(job: ImportJob) -> _Validated:
    header, rows = _reader(job)
    v = _Validated()
    missing = [c for c in ORDER_REQUIRED if c not in header]
    if missing:
        v.error(1, ",".join(missing), _("Missing columns: %(cols)s") % {"cols": ", ".join(missing)})
        return v
    stores = {s.code: s for s in Store.objects.filter(is_active=True)}
    codes: set[str] = set()
    tz = timezone.get_current_timezone()
    earliest = datetime(EARLIEST_ORDER_YEAR, 1, 1, tzinfo=tz)
    latest = timezone.now() + timedelta(days=1)
    for n, row in enumerate(rows, start=2):
        v.rows += 1
        if v.rows > MAX_ROWS:
            v.error(n, "", _("The file has more than %(n)s rows. Split it.") % {"n": MAX_ROWS})
            break
        bad = False

        def err(col: str, msg: str, n: int = n) -> None:
            nonlocal bad
            bad = True
            v.error(n, col, msg)

        for col in ORDER_REQUIRED:
            if not row.get(col):
                err(col, _("This field is required."))
        if bad:
            continue
        placed = _placed_at(row["placed_at"], tz)
        if placed is None:
            err(
                "placed_at",
                _("Use a date and time such as 2026-11-22 10:31 or 2026-11-22T10:31:00+08:00."),
            )
        elif not earliest <= placed <= latest:
            err("placed_at", _("Give a time from %(year)s up to now.") % {"year": earliest.year})
            placed = None
        try:
            qty = int(row["quantity"])
            if not 1 <= qty <= 100_000:
                raise ValueError
        except ValueError:
            err("quantity", _("Use a whole number from 1."))
            qty = 0
        amount = _decimal(row["amount"])
        if amount is None or amount < 0:
            err("amount", _("Use an amount such as 199.00."))
        elif amount > MAX_ORDER_TOTAL:
            err("amount", _("At most CNY %(max)s.") % {"max": f"{MAX_ORDER_TOTAL:,.2f}"})
        store_code = row.get("store", "").upper()
        if store_code and store_code not in stores:
            err("store", _("Unknown store."))
        ref = row["member"]
        if CODE_RE.match(ref.upper()) and not ref.isdigit():
            codes.add(ref.upper())
        else:
            try:
                normalize_phone(ref)
            except InvalidPhone as exc:
                err("member", str(exc))
        for col, limit in (
            ("source", 32),
            ("external_id", 100),
            ("sku", 64),
            ("name", 200),
            ("category", 64),
        ):
            if len(row.get(col, "")) > limit:
                err(col, _("At most %(n)s characters.") % {"n": limit})
        if bad:
            continue
        key = (row["source"], row["external_id"])
        order = v.orders.setdefault(
            key, {"rows": [], "member": ref, "store": store_code, "placed_at": placed, "lines": []}
        )
        if order["member"] != ref or order["store"] != store_code or order["placed_at"] != placed:
            err("external_id", _("Lines of one order must share member, store and time."))
            v.bad_rows.update(order["rows"])
            continue
        order["rows"].append(n)
        order["lines"].append(
            LineIn(
                sku=row["sku"],
                name=row.get("name", ""),
                category=row.get("category", ""),
                quantity=qty,
                amount=amount or Decimal("0"),
            )
        )
        if v.rows % 2000 == 0:
            _progress(job.pk, "validating", v.rows, 0)
    for order in v.orders.values():
        if sum((ln.amount for ln in order["lines"]), Decimal("0")) > MAX_ORDER_TOTAL:
            for n in order["rows"]:
                v.error(
                    n,
                    "amount",
                    _("An order is at most CNY %(max)s.") % {"max": f"{MAX_ORDER_TOTAL:,.2f}"},
                )
    known = set(Member.objects.filter(code__any=codes).values_list("code", flat=True))
    for order in v.orders.values():
        if order["member"].upper() in codes and order["member"].upper() not in known:
            for n in order["rows"]:
                v.error(n, "member", _("No member has code %(code)s.") % {"code": order["member"]})
    return v


def _validate_members(job: ImportJob) -> _Validated:
    header, rows = _reader(job)
    v = _Validated()
    missing = [c for c in MEMBER_REQUIRED if c not in header]
    if missing:
        v.error(1, ",".join(missing), _("Missing columns: %(cols)s") % {"cols": ", ".join(missing)})
        return v
    stores = {s.code for s in Store.objects.filter(is_active=True)}
    seen: set[str] = set()
    channels = set(Member.Channel.values)
    today = timezone.localdate()
    for n, row in enumerate(rows, start=2):
        v.rows += 1
        if v.rows > MAX_ROWS:
            v.error(n, "", _("The file has more than %(n)s rows. Split it.") % {"n": MAX_ROWS})
            break
        before = len(v.bad_rows)
        try:
            phone = normalize_phone(row.get("phone", ""))
            if phone in seen:
                v.error(n, "phone", _("This phone is in the file twice."))
            seen.add(phone)
        except InvalidPhone as exc:
            v.error(n, "phone", str(exc))
            phone = ""
        if row.get("store") and row["store"].upper() not in stores:
            v.error(n, "store", _("Unknown store."))
        if row.get("channel") and row["channel"] not in channels:
            v.error(n, "channel", _("Unknown channel."))
        if row.get("birthday"):
            birthday = _date(row["birthday"])
            if birthday is None:
                v.error(n, "birthday", _("Use a date such as 1990-05-20."))
            elif not date(1900, 1, 1) <= birthday <= today:
                v.error(n, "birthday", _("A birthday must be in the past."))
        if len(row.get("name", "")) > 100:
            v.error(n, "name", _("At most %(n)s characters.") % {"n": 100})
        if row.get("email"):
            try:
                validate_email(row["email"])
                if len(row["email"]) > 254:  # the column's length
                    raise ValidationError("too long")
            except ValidationError:
                v.error(n, "email", _("Enter a valid email address."))
        points = 0
        if row.get("opening_points"):
            try:
                points = int(row["opening_points"].replace(",", ""))
                if not 0 <= points <= MAX_OPENING_POINTS:
                    raise ValueError
            except ValueError:
                v.error(
                    n,
                    "opening_points",
                    _("Use a whole number of points from 0 to %(max)s.")
                    % {"max": f"{MAX_OPENING_POINTS:,}"},
                )
        if len(v.bad_rows) == before:
            v.members.append((n, {**row, "phone": phone, "opening_points": points}))
    return v


def import_create(*, kind: str, upload, actor: User | None) -> ImportJob:
    if kind not in ImportJob.Kind.values:
        raise ApplicationError(
            _("Choose what the file holds."), fields={"kind": [_("Choose orders or members.")]}
        )
    if not upload.name.lower().endswith(".csv"):
        raise ApplicationError(
            _("Upload a .csv file."), fields={"file": [_("Upload a .csv file.")]}
        )
    return ImportJob.objects.create(
        kind=kind, file=upload, filename=upload.name[:200], created_by=actor
    )


def _failed(job: ImportJob, *, claimed_by: str | None = None) -> ImportJob:
    """An unexpected error (a bug, the database gone): the job must not spin on "checking" or
    "applying" for ever. The worker's log has the traceback under the job's id. While applying
    (``claimed_by``), only that claim is failed, and the file may be applied again."""
    logger.exception("import %s failed", job.pk)
    jobs = ImportJob.objects.filter(pk=job.pk)
    if claimed_by is not None:
        jobs = jobs.filter(status=ImportJob.Status.APPLYING, claimed_by=claimed_by)
    jobs.update(
        status=ImportJob.Status.FAILED,
        message=_("An unexpected error stopped this import (reference: import %(id)s).")
        % {"id": job.pk},
        can_apply_again=claimed_by is not None,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    _progress(job.pk, job.status, 0, job.total_rows)
    return job


def import_validate(*, job_id: int) -> ImportJob:
    job = ImportJob.objects.get(pk=job_id)
    try:
        v = _validate_orders(job) if job.kind == ImportJob.Kind.ORDERS else _validate_members(job)
    except (ApplicationError, csv.Error) as exc:  # not a CSV file at all: say so, as a file error
        message = exc.message if isinstance(exc, ApplicationError) else str(exc)
        v = _Validated()
        v.error(1, "file", message)
    except Exception:
        return _failed(job)
    job.total_rows = v.rows
    job.error_rows = len(v.bad_rows)
    job.errors = sorted(v.errors, key=lambda e: e["row"])
    job.status = ImportJob.Status.INVALID if v.bad_rows else ImportJob.Status.READY
    if v.rows == 0 and not v.bad_rows:
        job.status = ImportJob.Status.INVALID
        job.errors = [{"row": 1, "field": "", "message": _("The file has no rows.")}]
    job.save(update_fields=["total_rows", "error_rows", "errors", "status"])
    _progress(job.pk, job.status, v.rows, v.rows)
    return job


@transaction.atomic
def import_confirm(*, job_id: int, skip_bad_rows: bool, language: str = "") -> ImportJob:
    """The operator confirmed: the job shows "applying" at once and waits for a worker to claim
    it (the caller enqueues ``import_apply`` on commit). A file that failed while applying may be
    confirmed again, with its bad rows skipped if it has any, as the first time."""
    status = ImportJob.Status
    appliable = Q(status=status.READY) | Q(status=status.FAILED, can_apply_again=True)
    if skip_bad_rows:
        appliable |= Q(status=status.INVALID)
    else:
        appliable &= Q(error_rows=0)
    confirmed = ImportJob.objects.filter(appliable, pk=job_id).update(
        status=status.APPLYING,
        skip_bad_rows=skip_bad_rows,
        claimed_by="",
        claimed_at=timezone.now(),
        can_apply_again=False,
        message="",
        finished_at=None,
        language=(language or "")[:10],
    )
    job = ImportJob.objects.get(pk=job_id)
    if not confirmed:
        if job.status in (status.APPLYING, status.DONE):
            raise ApplicationError(
                _("This file is being applied or has been applied already."),
                code="import_already_applied",
                status_code=409,
            )
        raise ApplicationError(
            _("This file can't be applied: fix the errors or choose to skip the bad rows."),
            code="import_not_ready",
            status_code=409,
        )
    _progress(job.pk, "applying", 0, job.total_rows)
    return job


class _ClaimLost(Exception):
    """The job was failed as abandoned while this worker still applied it: roll back."""


def _claimant_name() -> str:
    # The token tells two claims of one process apart (a thread pool, a claim before a restart).
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:200]


@contextmanager
def _apply_lock(job_id: int) -> Iterator[bool]:
    """Whether this session may work on the job. On PostgreSQL: whether it got the job's advisory
    lock, held to the end of the block or of the session; a killed worker's session ends with its
    connection, so a free lock on a claimed job means its worker is gone. Elsewhere: yes, and the
    claim's conditional update alone decides who applies."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s::int, %s::int)", [APPLY_LOCK_CLASS, job_id])
        free = bool(cursor.fetchone()[0])
    try:
        yield free
    finally:
        if free:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_unlock(%s::int, %s::int)", [APPLY_LOCK_CLASS, job_id]
                    )
            except DatabaseError:  # the session is gone, and its locks with it
                logger.warning("import %s: its session ended before the lock was released", job_id)


def _claimant_gone(job: ImportJob) -> bool:
    """Without the advisory lock (SQLite): whether the worker that claimed the job has stopped.
    Its process on this machine tells; a claim older than the task's hard time limit has no
    worker either (the demo's solo worker has no time limit, and its files are small)."""
    stale = timedelta(seconds=django_settings.SCRM_IMPORT_TIME_LIMIT + CLAIM_STALE_AFTER_SECONDS)
    if job.claimed_at is None or timezone.now() - job.claimed_at > stale:
        return True
    host, _sep, rest = job.claimed_by.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's process: alive
        return False
    return False


def _fail_abandoned(job: ImportJob) -> bool:
    """Fail a job left at "applying" by a worker that is gone, if that claim still stands, with
    its audit row. Nothing of it was applied: a job turns done in the transaction of its rows."""
    taken = bool(job.claimed_by)
    with translation.override(job.language or django_settings.LANGUAGE_CODE):
        # The page says "Nothing was applied." before every failure's message.
        message = (
            _("The worker applying this import stopped. Apply it again.")
            if taken
            else _("No worker took this import. Apply it again.")
        )
    with transaction.atomic():
        failed = ImportJob.objects.filter(
            pk=job.pk, status=ImportJob.Status.APPLYING, claimed_by=job.claimed_by
        ).update(
            status=ImportJob.Status.FAILED,
            message=message,
            can_apply_again=True,
            finished_at=timezone.now(),
        )
        if failed:
            audit_record(
                actor=None,
                action="import.abandoned",
                target=job,
                via=AuditEntry.Via.SYSTEM,
                before={
                    "status": ImportJob.Status.APPLYING.value,
                    "claimed_by": job.claimed_by,
                    "claimed_at": job.claimed_at.isoformat() if job.claimed_at else None,
                },
                after={
                    "status": ImportJob.Status.FAILED.value,
                    "reason": "worker_stopped" if taken else "never_taken",
                },
                target_label=job.filename,
            )
    if failed:
        logger.warning(
            "import %s: its worker %s stopped; failed, may be applied again",
            job.pk,
            job.claimed_by or "(none took it)",
        )
        _progress(job.pk, ImportJob.Status.FAILED, 0, job.total_rows)
    return bool(failed)


def imports_fail_abandoned() -> int:
    """The reaper (a periodic task): fail each job left at "applying" by a worker that is gone,
    and each confirmed job no worker took within WAITING_AT_MOST_SECONDS; the operator may apply
    them again. A live apply holds its lock and is passed by. All its state is in the database:
    any worker may run it, as often as it likes. A job waiting for a worker is never locked here
    within that time, so a worker taking it never finds the reaper holding its lock."""
    waited_since = timezone.now() - timedelta(seconds=WAITING_AT_MOST_SECONDS)
    candidates = list(
        ImportJob.objects.filter(status=ImportJob.Status.APPLYING)
        .filter(~Q(claimed_by="") | Q(claimed_at__lt=waited_since) | Q(claimed_at__isnull=True))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    failed = 0
    for job_id in candidates:
        with _apply_lock(job_id) as free:
            if not free:
                continue  # its worker is applying it
            job = ImportJob.objects.get(pk=job_id)
            if job.status != ImportJob.Status.APPLYING:
                continue
            if job.claimed_by:
                if connection.vendor != "postgresql" and not _claimant_gone(job):
                    continue
            elif job.claimed_at is not None and job.claimed_at >= waited_since:
                continue
            failed += _fail_abandoned(job)
    return failed


def _claim(*, job_id: int, skip_bad_rows: bool) -> ImportJob | None:
    """Take the job for this worker with one conditional update, or None if it is not to be
    applied here: claimed by a live worker, done, failed (waiting for the operator, who may not
    want it any more), or claimed by another delivery first."""
    status = ImportJob.Status
    job = ImportJob.objects.get(pk=job_id)
    if job.status == status.APPLYING and job.claimed_by:
        # Another delivery claimed it. On PostgreSQL this session holds the job's lock, so that
        # delivery's worker is gone; elsewhere its process tells.
        if connection.vendor == "postgresql" or _claimant_gone(job):
            _fail_abandoned(job)
        else:
            logger.info("import %s: %s is applying it", job_id, job.claimed_by)
        return None
    if job.status == status.APPLYING:  # confirmed on the page, waiting for a worker
        mine = Q(status=status.APPLYING, claimed_by="")
        skip_bad_rows = job.skip_bad_rows
    elif job.status == status.READY or (job.status == status.INVALID and skip_bad_rows):
        mine = Q(status=job.status)
    elif job.status in (status.DONE, status.FAILED):
        logger.info("import %s: %s already, not applied again", job_id, job.status)
        return None
    else:
        raise ApplicationError(
            _("This file can't be applied: fix the errors or choose to skip the bad rows."),
            code="import_not_ready",
            status_code=409,
        )
    claimed = ImportJob.objects.filter(mine, pk=job_id).update(
        status=status.APPLYING,
        skip_bad_rows=skip_bad_rows,
        claimed_by=_claimant_name(),
        claimed_at=timezone.now(),
        message="",
    )
    if not claimed:
        logger.info("import %s: another delivery claimed it first", job_id)
        return None
    job.refresh_from_db()
    return job


def import_apply(*, job_id: int, skip_bad_rows: bool, actor: User | None) -> ImportJob:
    """Apply every valid row in one transaction; any failure rolls the whole file back.

    Any number of deliveries of the task may call this for one job: one claims it and applies it
    (holding the job's advisory lock on PostgreSQL), the others return the job as it is. A
    delivery that finds the job claimed by a worker that is gone fails it, as the reaper does.
    The job turns done in the transaction of its rows, and only while this claim stands: a job
    is never both applied and failed, and never applied twice."""
    with _apply_lock(job_id) as free:
        if not free:
            logger.info("import %s: another worker is applying it", job_id)
            return ImportJob.objects.get(pk=job_id)
        job = _claim(job_id=job_id, skip_bad_rows=skip_bad_rows)
        if job is None:
            return ImportJob.objects.get(pk=job_id)
        return _apply_claimed(job, actor)


def _apply_claimed(job: ImportJob, actor: User | None) -> ImportJob:
    mine = ImportJob.objects.filter(
        pk=job.pk, status=ImportJob.Status.APPLYING, claimed_by=job.claimed_by
    )
    try:
        v = _validate_orders(job) if job.kind == ImportJob.Kind.ORDERS else _validate_members(job)
        with transaction.atomic():
            applied, created = (
                _apply_orders if job.kind == ImportJob.Kind.ORDERS else _apply_members
            )(job, v, actor)
            audit_record(
                actor=actor,
                action="import.applied",
                target=job,
                via=AuditEntry.Via.WEB,
                after={
                    "kind": job.kind,
                    "rows": applied,
                    "created": created,
                    "skipped": len(v.bad_rows),
                },
                target_label=job.filename,
            )
            # Done in the rows' transaction: a worker killed before the commit leaves nothing
            # applied and the job applying, for the reaper; one killed after it, the job done.
            if not mine.update(
                status=ImportJob.Status.DONE,
                applied_rows=applied,
                created_records=created,
                finished_at=timezone.now(),
            ):
                raise _ClaimLost
    except _ClaimLost:
        logger.warning("import %s: failed as abandoned while applying; rolled back", job.pk)
    except ApplicationError as exc:
        mine.update(
            status=ImportJob.Status.FAILED, message=exc.message[:500], finished_at=timezone.now()
        )
    except Exception:
        return _failed(job, claimed_by=job.claimed_by)
    job.refresh_from_db()
    _progress(job.pk, job.status, job.applied_rows, job.total_rows)
    return job


def _apply_orders(job: ImportJob, v: _Validated, actor: User | None) -> tuple[int, int]:
    from members.services.order_batch import order_ingest_many

    stores = {s.code: s for s in Store.objects.filter(is_active=True)}
    total_rows = sum(len(o["rows"]) for o in v.orders.values())
    applied = created = 0
    chunk: list[tuple[OrderIn, str]] = []
    chunk_rows: list[list[int]] = []
    # Each member's lifecycle is refreshed once, at the end, not once per chunk it appears in.
    touched: set[int] = set()

    def flush() -> None:
        nonlocal applied, created
        for (status, body), rows in zip(
            order_ingest_many(
                items=chunk,
                actor=actor,
                via=AuditEntry.Via.WEB,
                defer_lifecycle=touched,
                card=False,
            ),
            chunk_rows,
            strict=True,
        ):
            if status not in (200, 201):
                raise ApplicationError(
                    _("Row %(row)s: %(message)s")
                    % {"row": rows[0], "message": body["error"]["message"]},
                    code=body["error"]["code"],
                )
            applied += len(rows)
            created += int(status == 201)
        chunk.clear()
        chunk_rows.clear()
        _progress(job.pk, "applying", applied, total_rows)

    for (source, external_id), order in v.orders.items():
        if v.bad_rows.intersection(order["rows"]):
            continue
        total = sum((ln.amount for ln in order["lines"]), Decimal("0"))
        data = OrderIn(
            source=source,
            external_id=external_id,
            member=order["member"],
            placed_at=order["placed_at"],
            total=total,
            lines=order["lines"],
            store=stores.get(order["store"]),
        )
        fingerprint = {
            "source": source,
            "external_id": external_id,
            "member": order["member"],
            "total": str(total),
            "lines": [(ln.sku, ln.quantity, str(ln.amount)) for ln in order["lines"]],
        }
        chunk.append((data, request_hash(fingerprint)))
        chunk_rows.append(order["rows"])
        if len(chunk) >= IMPORT_CHUNK:
            flush()
    if chunk:
        flush()
    _progress(job.pk, "finishing", applied, total_rows)
    ids = sorted(touched)
    for start in range(0, len(ids), LIFECYCLE_CHUNK):
        lifecycle_refresh(member_ids=ids[start : start + LIFECYCLE_CHUNK])
    return applied, created


def _apply_members(job: ImportJob, v: _Validated, actor: User | None) -> tuple[int, int]:
    if connection.vendor == "postgresql":
        return _apply_members_set_based(job, v, actor)
    # The embedded demo database: one by one, through the services.
    stores = {s.code: s for s in Store.objects.filter(is_active=True)}
    applied = created = 0
    for _row_number, row in v.members:
        member, was_new = member_enrol(
            phone=row["phone"],
            name=row.get("name", ""),
            store=stores.get(row.get("store", "").upper()),
            channel=row.get("channel") or Member.Channel.IMPORT,
            email=row.get("email", ""),
            birthday=_date(row["birthday"]) if row.get("birthday") else None,
            actor=actor,
            via=AuditEntry.Via.WEB,
        )
        if row["opening_points"]:
            points_adjust(
                member=member,
                points=row["opening_points"],
                reason=_opening_reason(job),
                reason_code="opening",
                reason_args={"file": job.filename},
                actor=actor,
                key=_opening_key(job, member.pk),
                kind=PointsEntry.Kind.ADJUST,
            )
        applied += 1
        created += int(was_new)
        if applied % 500 == 0:
            _progress(job.pk, "applying", applied, len(v.members))
    return applied, created


def _opening_reason(job: ImportJob) -> str:
    return _("Opening balance from %(file)s") % {"file": job.filename}


def _opening_key(job: ImportJob, member_id: int) -> str:
    return f"import:{job.pk}:{member_id}"


def _apply_members_set_based(job: ImportJob, v: _Validated, actor: User | None) -> tuple[int, int]:
    """The same as enrolling each row and booking its opening balance, set-based: per chunk the
    members are enrolled at once (``member_enrol_many``), then the members with a balance to open
    are locked in one query, their ledger entries COPYed and their audit rows written at once."""
    from members.services.orders import ENTRY_COLUMNS

    stores = {s.code: s for s in Store.objects.filter(is_active=True)}
    settings = LoyaltySettings.current()
    actor_id = actor.pk if actor is not None and actor.pk else None
    reason = _opening_reason(job)[:200]
    opening_args = json.dumps({"file": job.filename}, ensure_ascii=False)
    applied = created = 0
    for start in range(0, len(v.members), MEMBER_CHUNK):
        chunk = [row for _n, row in v.members[start : start + MEMBER_CHUNK]]
        member_of, new = member_enrol_many(
            [
                {
                    **row,
                    "birthday": _date(row["birthday"]) if row.get("birthday") else None,
                    "store": stores.get(row.get("store", "").upper()),
                    "channel": row.get("channel") or Member.Channel.IMPORT.value,
                }
                for row in chunk
            ],
            actor=actor,
            via=AuditEntry.Via.WEB,
        )
        created += len(new)
        opening = {member_of[r["phone"]]: r["opening_points"] for r in chunk if r["opening_points"]}
        booked = set(
            PointsEntry.objects.filter(
                idempotency_key__any=[_opening_key(job, pk) for pk in opening]
            ).values_list("member_id", flat=True)
        )
        now = timezone.now()
        expires = points_expiry(now, settings)
        entries: list[tuple] = []
        audit: list[tuple[int, str, dict | None, dict | None]] = []
        balances: dict[int, int] = {}
        for pk, code, name, phone, balance in (
            Member.objects.select_for_update()
            .filter(pk__any=list(set(opening) - booked))
            .order_by("pk")  # the order every locker uses: no deadlock with a batch of orders
            .values_list("pk", "code", "name", "phone", "points_balance")
        ):
            points = opening[pk]
            balances[pk] = balance + points
            entries.append(  # ENTRY_COLUMNS, no order, refund or reward
                (
                    pk,
                    PointsEntry.Kind.ADJUST.value,
                    points,
                    balance + points,
                    reason,
                    "opening",
                    opening_args,
                    actor_id,
                    None,
                    None,
                    None,
                    _opening_key(job, pk),
                    expires,
                    now,
                )
            )
            audit.append(
                (
                    pk,
                    Member.label(name, phone, code),
                    {"points_balance": balance},
                    {"points_balance": balance + points, "points": points, "reason": reason},
                )
            )
        copy_rows(PointsEntry, ENTRY_COLUMNS, entries)
        if balances:
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE members_member AS m SET points_balance = v.b "
                    "FROM unnest(%s::bigint[], %s::int[]) AS v(id, b) WHERE m.id = v.id",
                    [list(balances), list(balances.values())],
                )
        audit_record_many(
            actor=actor,
            action="points.adjusted",
            target_type="members.member",
            targets=audit,
            via=AuditEntry.Via.WEB,
        )
        applied += len(chunk)
        _progress(job.pk, "applying", applied, len(v.members))
    return applied, created


def import_error_report(job: ImportJob) -> str:
    return csv_text(
        [[_("Row"), _("Column"), _("Problem")]]
        + [[e["row"], e["field"], e["message"]] for e in job.errors]
    )
