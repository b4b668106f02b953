"""CSV import of member rows, as a brand moving here from another system: 100,000 rows (by
default), a tenth of them members the data set already has, most with an opening points balance.
Validated, then applied; the whole run is in a transaction that is rolled back, so the data set
keeps its size."""

from __future__ import annotations

import io
import random
import time


class _Rollback(Exception):
    pass


def run(args) -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import transaction

    from members.models import ImportJob, Member
    from members.services.imports import import_apply, import_create, import_validate

    rows = args.import_rows
    rng = random.Random()
    max_id = Member.objects.order_by("-id").values_list("id", flat=True).first()
    known = list(
        Member.objects.filter(
            id__in=[rng.randint(1, max_id) for _ in range(rows // 10)]
        ).values_list("phone", flat=True)
    )
    # New numbers from a prefix the data set does not use (it draws 13x-18x).
    start = rng.randint(0, 10**8 - rows)
    out = io.StringIO()
    out.write("phone,name,store,channel,birthday,email,opening_points\n")
    for i in range(rows):
        phone = known[i] if i < len(known) else f"199{start + i:08d}"
        points = "" if i % 5 == 0 else str(rng.randint(1, 5000))
        out.write(f"{phone},会员{i},,,1990-05-{1 + i % 28:02d},,{points}\n")
    figures: dict = {"rows": rows, "existing_members": len(known)}
    try:
        with transaction.atomic():
            job = import_create(
                kind="members",
                upload=SimpleUploadedFile("members.csv", out.getvalue().encode()),
                actor=None,
            )
            started = time.monotonic()
            job = import_validate(job_id=job.pk)
            figures["validate_seconds"] = round(time.monotonic() - started, 1)
            assert job.status == ImportJob.Status.READY, job.errors[:3]
            started = time.monotonic()
            job = import_apply(job_id=job.pk, skip_bad_rows=False, actor=None)
            figures["apply_seconds"] = round(time.monotonic() - started, 1)
            assert job.status == ImportJob.Status.DONE, job.message
            figures["members_created"] = job.created_records
            total = figures["validate_seconds"] + figures["apply_seconds"]
            figures["rows_per_second"] = round(rows / total, 1)
            raise _Rollback
    except _Rollback:
        pass
    return figures
