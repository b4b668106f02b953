"""Staff roles are groups with permissions; the groups and permissions are made by a data migration."""

from django.utils.translation import gettext_lazy as _

ADMIN = "admin"
OPERATOR = "operator"
CLERK = "clerk"
MEMBER = "member"

STAFF_ROLES = [ADMIN, OPERATOR, CLERK]
ROLE_LABELS = {
    ADMIN: _("Admin"),
    OPERATOR: _("Operator"),
    CLERK: _("Clerk"),
    MEMBER: _("Member"),
}

# codename -> English name; all on accounts.User's content type.
PERMISSIONS = {
    "use_console": "Can use the staff console",
    "use_counter": "Can use the store counter",
    "manage_members": "Can manage members",
    "manage_stores": "Can manage stores",
    "manage_staff": "Can manage staff and roles",
    "manage_api_keys": "Can manage API keys",
    "view_audit_log": "Can read the audit log",
}

ROLE_PERMISSIONS = {
    ADMIN: list(PERMISSIONS),
    OPERATOR: ["use_console", "use_counter", "manage_members"],
    CLERK: ["use_counter"],
}


def ensure_role_groups() -> None:
    """Create the role groups and their permissions if missing (idempotent).

    The data migration does this on a fresh database; this is for databases that were emptied
    after migrating (test flushes) and for ``seed_demo``.
    """
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    ct, _created = ContentType.objects.get_or_create(app_label="accounts", model="user")
    perms = {
        codename: Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )[0]
        for codename, name in PERMISSIONS.items()
    }
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([perms[c] for c in codenames])
