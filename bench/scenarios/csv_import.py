"""CSV import of order rows: validate the whole file, then apply it in one transaction.

Twice: onto 3,000 members the data set has (kept), and onto phones nobody has yet, each enrolled
by its first order (a brand moving its order history here; rolled back, so the data set keeps
its members)."""

from __future__ import annotations

import io
import random
import time
import uuid


def run(args) -> dict:
    from django.db import transaction

    from members.models import Member

    rows = args.import_rows
    # Other members on every run: a rerun must not import onto the members the last run grew.
    rng = random.Random()
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first()
    codes = list(
        Member.objects.filter(id__in=[rng.randint(1, max_id) for _ in range(3000)]).values_list(
            "code", flat=True
        )
    )
    run_id = uuid.uuid4().hex[:8]
    out = io.StringIO()
    out.write("source,external_id,member,store,placed_at,sku,name,category,quantity,amount\n")
    for i in range(rows):
        order = i // 2  # two lines an order
        out.write(
            f"csv,{run_id}-{order},{codes[order % len(codes)]},,2026-11-20 10:{order % 60:02d},SK-MASK-10,面膜,skincare,1,{20 + i % 300}.00\n"
        )
    validated, applied = _import(out.getvalue())
    figures = {
        "rows": rows,
        "orders": rows // 2,
        "validate_seconds": round(validated, 1),
        "apply_seconds": round(applied, 1),
        "rows_per_second": round(rows / (validated + applied), 1),
    }

    # The same size onto new phones: two orders each, from a prefix the data set does not use.
    start = rng.randint(0, 10**8 - rows)
    out = io.StringIO()
    out.write("source,external_id,member,store,placed_at,sku,name,category,quantity,amount\n")
    for i in range(rows):
        order = i // 2
        out.write(
            f"csv,{run_id}-new-{order},198{start + order // 2:08d},,2026-11-20 10:{order % 60:02d},SK-MASK-10,面膜,skincare,1,{20 + i % 300}.00\n"
        )
    before = Member.objects.count()
    try:
        with transaction.atomic():
            validated, applied = _import(out.getvalue())
            figures["new_phones_members_enrolled"] = Member.objects.count() - before
            figures["new_phones_seconds"] = round(validated + applied, 1)
            raise _Rollback
    except _Rollback:
        pass
    return figures


class _Rollback(Exception):
    pass


def _import(text: str) -> tuple[float, float]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from members.models import ImportJob
    from members.services.imports import import_apply, import_create, import_validate

    job = import_create(
        kind="orders", upload=SimpleUploadedFile("bench.csv", text.encode()), actor=None
    )
    started = time.monotonic()
    job = import_validate(job_id=job.pk)
    validated = time.monotonic() - started
    assert job.status == ImportJob.Status.READY, job.errors[:3]
    started = time.monotonic()
    job = import_apply(job_id=job.pk, skip_bad_rows=False, actor=None)
    applied = time.monotonic() - started
    assert job.status == ImportJob.Status.DONE, job.message
    return validated, applied
