"""Nightly jobs of the loyalty engine. Each only calls a service."""

from celery import shared_task
from django.conf import settings
from django.utils import translation

from members import events, services


@shared_task(name="members.tasks.points_expire_due", ignore_result=True)
def points_expire_due() -> int:
    return services.points_expire_due()


@shared_task(name="members.tasks.points_notify_expiring", ignore_result=True)
def points_notify_expiring() -> int:
    return services.points_notify_expiring()


@shared_task(name="members.tasks.vouchers_expire_due", ignore_result=True)
def vouchers_expire_due() -> int:
    return services.vouchers_expire_due()


@shared_task(name="members.tasks.tiers_evaluate_daily", ignore_result=True)
def tiers_evaluate_daily() -> int:
    return services.tiers_evaluate_daily()


# An import's row errors and messages are stored as text: in the language of the operator who
# uploaded or applied the file, not the worker's default.
@shared_task(name="members.tasks.import_validate", ignore_result=True)
def import_validate(job_id: int, language: str | None = None) -> None:
    from members.services.imports import import_validate as validate

    with translation.override(language or settings.LANGUAGE_CODE):
        validate(job_id=job_id)


# Any delivery may come twice (a worker died; Redis put the message back): the service claims
# the job, so it is applied once. Stopped at the soft limit (the import fails and rolls back),
# killed at the hard one; the broker's visibility timeout is longer (settings, CELERY block).
@shared_task(
    name="members.tasks.import_apply",
    ignore_result=True,
    soft_time_limit=settings.SCRM_IMPORT_SOFT_TIME_LIMIT,
    time_limit=settings.SCRM_IMPORT_TIME_LIMIT,
)
def import_apply(
    job_id: int, skip_bad_rows: bool, actor_id: int | None, language: str | None = None
) -> None:
    from accounts.models import User
    from members.services.imports import import_apply as apply

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    with translation.override(language or settings.LANGUAGE_CODE):
        apply(job_id=job_id, skip_bad_rows=skip_bad_rows, actor=actor)


# The reaper: an import left at "applying" by a worker that died is failed, to be applied again.
@shared_task(name="members.tasks.imports_fail_abandoned", ignore_result=True)
def imports_fail_abandoned() -> int:
    from members.services.imports import imports_fail_abandoned as run

    return run()


@shared_task(name="members.tasks.tiers_reevaluate_all", ignore_result=True)
def tiers_reevaluate_all() -> int:
    from members.services.rules import tiers_reevaluate_all as run

    return run()


@shared_task(name="members.tasks.lifecycle_recompute_all", ignore_result=True)
def lifecycle_recompute_all() -> int:
    from members.services.lifecycle import lifecycle_recompute_all as run
    from members.services.profiles import tags_auto_apply

    result = run()
    tags_auto_apply()  # automatic tags ("bought baby category") ride on the same nightly pass
    return result.stage_changes if result else 0


# The event log's consumers: every few seconds each registered consumer gets what is new. The
# position lives in the database, so a worker killed mid-batch loses nothing, and two workers
# on one consumer do not both deliver (the second skips its locked position row).
@shared_task(name="members.tasks.events_dispatch", ignore_result=True)
def events_dispatch() -> int:
    for consumer in events.consumers():
        events_deliver.delay(consumer.name)
    return len(events.consumers())


@shared_task(name="members.tasks.events_deliver", ignore_result=True)
def events_deliver(name: str) -> int:
    if name not in {c.name for c in events.consumers()}:
        return 0
    return events.events_drain(name)
