"""The relays of the outbox and the webhooks. Each task only calls a service; the periodic
schedule is in ``scrm.celery``. Any number of workers may run them at once: rows are claimed with
SKIP LOCKED, and a task delivered twice finds nothing left to do."""

from celery import shared_task


@shared_task(name="campaigns.tasks.outbox_relay", ignore_result=True)
def outbox_relay() -> int:
    from campaigns.services.outbox import outbox_relay_until_empty

    return outbox_relay_until_empty()


@shared_task(name="campaigns.tasks.webhooks_deliver", ignore_result=True)
def webhooks_deliver() -> int:
    from campaigns.services.webhooks import webhooks_deliver_due

    total = 0
    for _ in range(50):
        n = webhooks_deliver_due()
        total += n
        if n == 0:
            break
    return total


@shared_task(name="campaigns.tasks.campaigns_advance", ignore_result=True)
def campaigns_advance() -> dict:
    from campaigns.services.campaigns import campaigns_advance as advance

    return advance(budget_seconds=25.0)
