from django.db import migrations


def forwards(apps, schema_editor):
    from campaigns.defaults import system_templates_ensure

    system_templates_ensure(apps)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0001_outbox_and_webhooks")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
