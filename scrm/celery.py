"""The Celery app. Periodic jobs are declared here, in code, so every deployment runs the same ones."""

import os

from celery import Celery
from celery.schedules import crontab

# Servers and workers run production settings unless told otherwise: a deployment that forgets
# DJANGO_SETTINGS_MODULE must not serve with DEBUG on (the demo's manage.py sets local itself).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scrm.settings.production")

app = Celery("scrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "heartbeat": {
        "task": "scrm.tasks.heartbeat",
        "schedule": 60.0,
    },
    # The event log: each registered consumer gets what is new (members.events).
    "events-dispatch": {
        "task": "members.tasks.events_dispatch",
        "schedule": 5.0,
    },
    # The outbox and the webhooks: due rows claimed with SKIP LOCKED by any number of workers.
    "outbox-relay": {
        "task": "campaigns.tasks.outbox_relay",
        "schedule": 5.0,
    },
    # Campaigns: the launch's outbox written on, rounds, results, finishing (any worker).
    "campaigns-advance": {
        "task": "campaigns.tasks.campaigns_advance",
        "schedule": 30.0,
    },
    "webhooks-deliver": {
        "task": "campaigns.tasks.webhooks_deliver",
        "schedule": 5.0,
    },
    # An import whose worker died is failed, to be applied again (members.services.imports).
    "imports-fail-abandoned": {
        "task": "members.tasks.imports_fail_abandoned",
        "schedule": 60.0,
    },
    # Loyalty, nightly in Asia/Shanghai: vouchers, then points, then the tier spend window.
    "vouchers-expire": {
        "task": "members.tasks.vouchers_expire_due",
        "schedule": crontab(hour=0, minute=5),
    },
    "points-expire": {
        "task": "members.tasks.points_expire_due",
        "schedule": crontab(hour=0, minute=15),
    },
    "points-expiring-notice": {
        "task": "members.tasks.points_notify_expiring",
        "schedule": crontab(hour=9, minute=0),
    },
    "tiers-daily": {
        "task": "members.tasks.tiers_evaluate_daily",
        "schedule": crontab(hour=1, minute=0),
    },
    # After the tiers: lifecycle, RFM and next purchase due for every member (one run at a time).
    "lifecycle-nightly": {
        "task": "members.tasks.lifecycle_recompute_all",
        "schedule": crontab(hour=1, minute=30),
    },
    "clear-expired-sessions": {
        "task": "accounts.tasks.sessions_clear_expired",
        "schedule": crontab(hour=3, minute=17),
    },
}
