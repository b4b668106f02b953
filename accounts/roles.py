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

# Django's admin (/admin/) is for admins: every model of the apps to look at; only the offers
# (products, voucher templates, rewards) to change there, until their console pages. Everything
# else is changed through the console, whose services audit it.
ADMIN_SITE_APPS = ("accounts", "members")
ADMIN_SITE_EDITABLE = ("members.product", "members.vouchertemplate", "members.reward")


def ensure_role_groups() -> None:
    """Create the role groups and their permissions if missing (idempotent).

    The data migration does this on a fresh database; this is for databases that were emptied
    after migrating (test flushes) and for ``seed_demo``.
    """
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
    for app_label in ADMIN_SITE_APPS:  # model permissions exist before the groups get them
        create_permissions(apps.get_app_config(app_label), verbosity=0)
    ct, _created = ContentType.objects.get_or_create(app_label="accounts", model="user")
    perms = {
        codename: Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )[0]
        for codename, name in PERMISSIONS.items()
    }
    admin_site = list(
        Permission.objects.filter(
            content_type__app_label__in=ADMIN_SITE_APPS, codename__startswith="view_"
        )
    )
    for label in ADMIN_SITE_EDITABLE:
        app_label, model = label.split(".")
        admin_site += Permission.objects.filter(
            content_type__app_label=app_label,
            codename__in=[f"{action}_{model}" for action in ("add", "change", "delete")],
        )
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        extra = admin_site if role == ADMIN else []
        group.permissions.set([perms[c] for c in codenames] + extra)
