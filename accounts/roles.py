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
