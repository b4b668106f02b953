"""Imports survive a dead worker: who claimed the apply and since when, whether a failed apply may
be applied again, the confirming operator's language (members.services.imports)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0007_event_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="can_apply_again",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="importjob",
            name="claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="importjob",
            name="claimed_by",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="importjob",
            name="language",
            field=models.CharField(blank=True, max_length=10),
        ),
    ]
