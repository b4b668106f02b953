from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

HEARTBEAT_CACHE_KEY = "scrm:worker-heartbeat"


@shared_task(name="scrm.tasks.heartbeat", ignore_result=True)
def heartbeat() -> str:
    """Proves that the scheduler enqueues and a worker consumes; /healthz reads the stamp."""
    stamp = timezone.now().isoformat()
    cache.set(HEARTBEAT_CACHE_KEY, stamp, timeout=None)
    return stamp
