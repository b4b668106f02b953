"""Demo data, idempotent: run it any number of times and get the same stores, staff and members.

Everything goes through the services, so the audit log and invariants hold as in real use. The
members' story is ``members.demo.data``; a database that holds it already is left as it is.
"""

import time

from django.core.management.base import BaseCommand
from django.db import connection, transaction

from accounts import roles
from accounts.demo import DEMO_LOGINS, demo_password
from accounts.models import Store, User
from accounts.services import staff_save, store_save
from members.models import Member, Order

STORES = [
    {"code": "SH01", "name": "上海静安嘉里店", "city": "上海", "time_zone": "Asia/Shanghai"},
    {"code": "BJ01", "name": "北京三里屯店", "city": "北京", "time_zone": "Asia/Shanghai"},
    {"code": "GZ01", "name": "广州天河城店", "city": "广州", "time_zone": "Asia/Shanghai"},
]

STAFF = [
    (DEMO_LOGINS["admin"], "陈静", roles.ADMIN, []),
    (DEMO_LOGINS["operator"], "周敏", roles.OPERATOR, []),
    ("operator2@scrm.example", "Grace Lin", roles.OPERATOR, []),
    (DEMO_LOGINS["clerk"], "王芳", roles.CLERK, ["SH01"]),
    ("clerk.bj01@scrm.example", "李娜", roles.CLERK, ["BJ01"]),
    ("clerk.gz01@scrm.example", "黄伟", roles.CLERK, ["GZ01"]),
    ("clerk2.gz01@scrm.example", "孙丽", roles.CLERK, ["GZ01"]),
    ("clerk.float@scrm.example", "赵磊", roles.CLERK, ["SH01", "BJ01"]),
]

DEFAULT_MEMBERS = 1000
BULK_THRESHOLD = 20_000


class Command(BaseCommand):
    help = (
        "Load demo stores, staff, a catalogue and members with profiles, consent, owners, tags,"
        " notes, vouchers and two years of orders (idempotent)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--members",
            type=int,
            default=DEFAULT_MEMBERS,
            help=f"Members, the ten named ones included (default {DEFAULT_MEMBERS}). Past 20,000 on"
            f" PostgreSQL, the first {DEFAULT_MEMBERS} are the demo's story and the rest come from"
            " the set-based bulk loader (orders, ledgers, tiers and a few profiles only).",
        )

    def handle(self, *args, members: int = DEFAULT_MEMBERS, **options):
        from members.defaults import ensure_loyalty_defaults
        from members.demo.data import HEADLINE_PHONE, SOURCE, demo_seed

        started = time.monotonic()
        log = self.stderr.write
        with transaction.atomic():
            ensure_loyalty_defaults()
            roles.ensure_role_groups()
            stores = {}
            for data in STORES:
                store = Store.objects.filter(code=data["code"]).first()
                stores[data["code"]] = store or store_save(data=data, actor=None)
            pw = demo_password()
            for email, name, role, codes in STAFF:
                if not User.objects.filter(email=email).exists():
                    staff_save(
                        email=email,
                        name=name,
                        role=role,
                        stores=[stores[c] for c in codes],
                        password=pw,
                        actor=None,
                    )
        bulk = members > BULK_THRESHOLD and connection.vendor == "postgresql"
        if Order.objects.filter(source=SOURCE, member__phone="+86" + HEADLINE_PHONE).exists():
            self.stdout.write(
                f"Demo data already loaded: {Member.objects.count()} members"
                " (remove var/ for a fresh demo)."
            )
        else:
            story = min(members, DEFAULT_MEMBERS) if bulk else members
            log(f"Loading the demo: {max(story, 10)} members with two years of orders...")
            staff = {
                code: sorted(
                    User.objects.filter(stores=store, is_active=True, groups__name=roles.CLERK),
                    key=lambda u: (u.stores.count(), u.email),
                )
                for code, store in stores.items()
            }
            operator = User.objects.filter(email=DEMO_LOGINS["operator"]).first()
            # One transaction: an interrupted load leaves nothing half done (the next run starts
            # afresh), and SQLite writes it once.
            with transaction.atomic():
                stats = demo_seed(
                    count=story, stores=stores, owners=staff, operator=operator, log=log
                )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo data ready in {time.monotonic() - started:.0f}s: {len(stores)} stores,"
                    f" {len(STAFF)} staff, {stats['members']} members, {stats['orders']} orders."
                )
            )
        missing = members - Member.objects.count()
        if bulk and missing > 0:
            from members.demo.loader import dataset_load

            log(f"Bulk-loading {missing} more members with orders (set-based)...")
            with transaction.atomic():
                result = dataset_load(members=missing, log=log)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Bulk data ready: {result['members']} more members, {result['orders']} orders."
                )
            )
