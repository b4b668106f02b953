"""The durable event log (members.events): events, consumers' positions, early deliveries; the
log made append-only in PostgreSQL."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION members_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER members_event_no_update_delete
    BEFORE UPDATE OR DELETE ON members_event
    FOR EACH ROW EXECUTE FUNCTION members_event_append_only();
"""
APPEND_ONLY_DROP = """
DROP TRIGGER IF EXISTS members_event_no_update_delete ON members_event;
DROP FUNCTION IF EXISTS members_event_append_only();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY_DROP)


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0006_fewer_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventConsumer',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100, unique=True)),
                ('position_xid', models.BigIntegerField(default=0)),
                ('position_id', models.BigIntegerField(default=0)),
                ('delivered', models.BigIntegerField(default=0)),
                ('failures', models.PositiveIntegerField(default=0)),
                ('last_error', models.TextField(blank=True)),
                ('last_delivery_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['name'],
            },
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('type', models.CharField(max_length=64)),
                ('payload', models.JSONField(default=dict)),
                ('occurred_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('xid', models.BigIntegerField(default=0)),
                ('member', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='members.member')),
            ],
            options={
                'ordering': ['id'],
                'indexes': [models.Index(fields=['xid', 'id'], name='event_xid_id_idx'), models.Index(fields=['member', 'id'], name='event_member_id_idx'), models.Index(fields=['type', '-id'], name='event_type_id_idx')],
            },
        ),
        migrations.CreateModel(
            name='EventEarlyDelivery',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('event_id', models.BigIntegerField()),
                ('consumer', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='members.eventconsumer')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('consumer', 'event_id'), name='early_delivery_once')],
            },
        ),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
