from __future__ import annotations

from django.db import connection


def ensure_dataset(members: int) -> dict:
    """Bulk-load benchmark members (phones +86192…) until there are ``members`` of them."""
    from accounts.models import Store
    from accounts.roles import ensure_role_groups
    from members.defaults import ensure_loyalty_defaults
    from members.demo.loader import dataset_load

    ensure_role_groups()
    ensure_loyalty_defaults()
    for i in range(20):
        Store.objects.get_or_create(
            code=f"B{i:02d}", defaults={"name": f"Bench store {i}", "city": "上海"}
        )
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM members_member WHERE phone LIKE '+86192%%'")
        have = c.fetchone()[0]
    if have < members:
        dataset_load(members=members - have, log=lambda m: print(m, flush=True))
    from members.models import MilestoneReached

    if not MilestoneReached.objects.filter(order__source="bulk").exists():
        from django.db import transaction

        from members.demo.loader import dataset_milestones_backfill

        with transaction.atomic():  # data sets loaded before milestones were part of the loader
            dataset_milestones_backfill(after_member_id=0)
    from members.models import Child

    if not Child.objects.exists():
        from django.db import transaction

        from members.demo.loader import dataset_profiles_backfill

        with transaction.atomic():  # data sets loaded before profiles and consent existed
            dataset_profiles_backfill(after_member_id=0, consent=True)
    with connection.cursor() as c:
        c.execute(
            "SELECT (SELECT count(*) FROM members_member), (SELECT count(*) FROM members_order)"
        )
        n_members, n_orders = c.fetchone()
    return {"members": n_members, "orders": n_orders}
