"""The nightly points expiry on the night the most points expire: a year end after which every lot
of the data set has expired. Run in a transaction that is rolled back, so the data set is kept."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo


class _Rollback(Exception):
    pass


def run(args) -> dict:
    from django.db import transaction

    from members.models import PointsEntry
    from members.services.points import points_expire_due, points_expire_member

    night = datetime(2028, 1, 1, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai"))
    figures: dict = {}
    try:
        with transaction.atomic():
            # The former way, member by member, on a sample, for comparison.
            sample = list(
                PointsEntry.objects.filter(points__gt=0)
                .values_list("member_id", flat=True)
                .distinct()[:1000]
            )
            started = time.monotonic()
            for pk in sample:
                points_expire_member(member_id=pk, now=night)
            figures["member_by_member_ms_per_member"] = round(
                (time.monotonic() - started) * 1000 / len(sample), 2
            )
            started = time.monotonic()
            points = points_expire_due(now=night)
            figures["set_based_seconds"] = round(time.monotonic() - started, 1)
            figures["members_expired"] = PointsEntry.objects.filter(
                kind=PointsEntry.Kind.EXPIRE
            ).count()
            figures["points_expired"] = points
            raise _Rollback
    except _Rollback:
        pass
    return figures
