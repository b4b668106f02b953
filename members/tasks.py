"""Nightly jobs of the loyalty engine. Each only calls a service."""

from celery import shared_task

from members import services


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
