"""The shipped growth system, and the points ledger made append-only in PostgreSQL."""

from django.db import migrations

LEDGER_TRIGGER = """
CREATE OR REPLACE FUNCTION members_pointsentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'points ledger entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER members_pointsentry_no_update_delete
    BEFORE UPDATE OR DELETE ON members_pointsentry
    FOR EACH ROW EXECUTE FUNCTION members_pointsentry_append_only();
"""
LEDGER_TRIGGER_DROP = """
DROP TRIGGER IF EXISTS members_pointsentry_no_update_delete ON members_pointsentry;
DROP FUNCTION IF EXISTS members_pointsentry_append_only();
"""


def load_defaults(apps, schema_editor):
    from members.defaults import ensure_loyalty_defaults

    names = ("Benefit", "Tier", "Milestone", "VoucherTemplate", "Reward", "LoyaltySettings")
    ensure_loyalty_defaults({n: apps.get_model("members", n) for n in names})
    Member = apps.get_model("members", "Member")
    entry = apps.get_model("members", "Tier").objects.order_by("rank").first()
    Member.objects.filter(tier__isnull=True).update(tier=entry)


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEDGER_TRIGGER)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(LEDGER_TRIGGER_DROP)


class Migration(migrations.Migration):
    dependencies = [("members", "0002_loyalty")]

    operations = [
        migrations.RunPython(load_defaults, migrations.RunPython.noop),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
