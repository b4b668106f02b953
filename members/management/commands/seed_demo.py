"""Demo data, idempotent: run it any number of times and get the same stores, staff and members.

Everything goes through the services, so the audit log and invariants hold as in real use.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from accounts import roles
from accounts.demo import DEMO_LOGINS, demo_password
from accounts.models import AuditEntry, Store, User
from accounts.services import staff_save, store_save
from members.models import Member
from members.services import member_enrol

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
    ("clerk.float@scrm.example", "赵磊", roles.CLERK, ["SH01", "BJ01"]),
]

MEMBERS = [
    ("13800138000", "林晓雨", "SH01", Member.Channel.STORE, 420),
    ("13912345678", "张伟", "SH01", Member.Channel.MINI_PROGRAM, 300),
    ("13698761234", "王秀英", "SH01", Member.Channel.STORE, 210),
    ("15011112222", "李静", "BJ01", Member.Channel.ONLINE, 180),
    ("15233334444", "刘洋", "BJ01", Member.Channel.REFERRAL, 95),
    ("18655556666", "陈思琪", "GZ01", Member.Channel.EVENT, 60),
    ("18777778888", "杨帆", "GZ01", Member.Channel.STORE, 30),
    ("13355551234", "赵敏", "SH01", Member.Channel.STORE, 12),
    ("17799990000", "黄子涵", "BJ01", Member.Channel.MINI_PROGRAM, 5),
    ("15866661234", "周杰", "GZ01", Member.Channel.ONLINE, 2),
]


BULK_THRESHOLD = 20_000


class Command(BaseCommand):
    help = "Load demo stores, staff, a catalogue and members with two years of orders (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--members",
            type=int,
            default=2000,
            help="Members with order history (default 2000). Past 20,000 on PostgreSQL, the fast bulk loader is used.",
        )

    @transaction.atomic
    def handle(self, *args, members: int = 2000, **options):
        from members.defaults import ensure_loyalty_defaults
        from members.demo.data import seed_members_with_history

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
        now = timezone.now()
        created = 0
        for phone, name, code, channel, days_ago in MEMBERS:
            member, was_new = member_enrol(
                phone=phone, name=name, store=stores[code], channel=channel, via=AuditEntry.Via.CLI
            )
            if was_new:
                Member.objects.filter(pk=member.pk).update(joined_at=now - timedelta(days=days_ago))
                created += 1
        orders = 0
        if members > BULK_THRESHOLD and connection.vendor == "postgresql":
            from members.demo.loader import dataset_load

            self.stderr.write(f"Bulk-loading {members} members with orders (set-based)...")
            result = dataset_load(members=members, log=self.stderr.write)
            orders = result["orders"]
        elif members:
            _n, orders = seed_members_with_history(
                count=members,
                stores=list(stores.values()),
                progress=lambda n: self.stderr.write(f"  {n} members with their orders..."),
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(stores)} stores, {len(STAFF)} staff, "
                f"{Member.objects.count()} members ({created} new), {orders} demo orders sent through the engine."
            )
        )
