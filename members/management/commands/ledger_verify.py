from django.core.management.base import BaseCommand, CommandError
from django.db import connection


class Command(BaseCommand):
    help = "Check that every member's points balance equals the sum of their ledger entries."

    def handle(self, *args, **options):
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT m.code, m.points_balance, COALESCE(e.total, 0), e.last_after
                FROM members_member m
                LEFT JOIN (
                    SELECT member_id, SUM(points) AS total,
                           (ARRAY_AGG(balance_after ORDER BY id DESC))[1] AS last_after
                    FROM members_pointsentry GROUP BY member_id
                ) e ON e.member_id = m.id
                WHERE m.points_balance <> COALESCE(e.total, 0)
                   OR (e.last_after IS NOT NULL AND e.last_after <> m.points_balance)
                ORDER BY m.id
                LIMIT 1000
                """
                if connection.vendor == "postgresql"
                else """
                SELECT m.code, m.points_balance, COALESCE(e.total, 0),
                       (SELECT balance_after FROM members_pointsentry p WHERE p.member_id = m.id ORDER BY p.id DESC LIMIT 1)
                FROM members_member m
                LEFT JOIN (SELECT member_id, SUM(points) AS total FROM members_pointsentry GROUP BY member_id) e
                  ON e.member_id = m.id
                WHERE m.points_balance <> COALESCE(e.total, 0)
                ORDER BY m.id LIMIT 1000
                """
            )
            bad = cursor.fetchall()
            cursor.execute("SELECT COUNT(*), COALESCE(SUM(points_balance), 0) FROM members_member")
            members, points = cursor.fetchone()
        for code, balance, total, last_after in bad:
            self.stderr.write(
                f"{code}: balance {balance}, ledger sum {total}, last balance_after {last_after}"
            )
        if bad:
            raise CommandError(f"{len(bad)} member(s) whose balance does not match the ledger.")
        self.stdout.write(
            self.style.SUCCESS(f"Ledger verified: {members} members, {points} points outstanding.")
        )
