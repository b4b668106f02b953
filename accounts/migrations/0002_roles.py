"""Roles as groups with permissions, and the audit log made append-only in PostgreSQL."""

from django.db import migrations

ROLE_PERMISSIONS = {
    "admin": [
        "use_console", "use_counter", "manage_members", "manage_stores", "manage_staff",
        "manage_api_keys", "view_audit_log",
    ],
    "operator": ["use_console", "use_counter", "manage_members"],
    "clerk": ["use_counter"],
}
PERMISSION_NAMES = {
    "use_console": "Can use the staff console",
    "use_counter": "Can use the store counter",
    "manage_members": "Can manage members",
    "manage_stores": "Can manage stores",
    "manage_staff": "Can manage staff and roles",
    "manage_api_keys": "Can manage API keys",
    "view_audit_log": "Can read the audit log",
}

AUDIT_TRIGGER = """
CREATE OR REPLACE FUNCTION accounts_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER accounts_auditentry_no_update_delete
    BEFORE UPDATE OR DELETE ON accounts_auditentry
    FOR EACH ROW EXECUTE FUNCTION accounts_auditentry_append_only();
"""
AUDIT_TRIGGER_DROP = """
DROP TRIGGER IF EXISTS accounts_auditentry_no_update_delete ON accounts_auditentry;
DROP FUNCTION IF EXISTS accounts_auditentry_append_only();
"""


def create_roles(apps, schema_editor):
    # Permissions are normally made after all migrations (post_migrate); make ours now so the
    # groups can hold them. post_migrate later finds them in place.
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    ct, _ = ContentType.objects.get_or_create(app_label="accounts", model="user")
    perms = {}
    for codename, name in PERMISSION_NAMES.items():
        perms[codename], _ = Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([perms[c] for c in codenames])


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


def add_audit_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_TRIGGER)


def drop_audit_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(AUDIT_TRIGGER_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, remove_roles),
        migrations.RunPython(add_audit_trigger, drop_audit_trigger),
    ]
