from __future__ import annotations

from typing import Any

from allauth.account.signals import login_code_rejected
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts import codes
from accounts.models import User
from accounts.services import audit_record


@receiver(login_code_rejected)
def lock_code_sign_in_after_last_attempt(
    sender: Any, request: Any, user: User, last_attempt: bool, **kw: Any
) -> None:
    """After the fifth wrong code the pending code is void (allauth) and the number is locked."""
    if last_attempt and user is not None and user.phone:
        codes.phone_lock(user.phone)
        audit_record(actor=user, action="auth.code_locked", target=user, request=request)


@receiver(user_logged_in)
def audit_sign_in(sender: Any, request: Any, user: User, **kw: Any) -> None:
    audit_record(actor=user, action="auth.signed_in", target=user, request=request)


@receiver(user_login_failed)
def audit_failed_sign_in(sender: Any, credentials: dict, request: Any = None, **kw: Any) -> None:
    login = str(
        credentials.get("email") or credentials.get("username") or credentials.get("phone") or ""
    )
    audit_record(
        actor=None,
        action="auth.sign_in_failed",
        request=request,
        after={"login": login[:200]},
        target_label=login[:200],
    )


def _connect_permission_cache() -> None:
    """Any change of who holds which permission drops every cached permission set."""
    from django.contrib.auth.models import Group
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from accounts.backends import permissions_changed
    from accounts.models import User

    for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
        m2m_changed.connect(permissions_changed, sender=through, dispatch_uid=f"perms-{through}")
    for model in (User, Group):
        post_save.connect(permissions_changed, sender=model, dispatch_uid=f"perms-save-{model}")
        post_delete.connect(permissions_changed, sender=model, dispatch_uid=f"perms-del-{model}")


_connect_permission_cache()


def _roles_after_migrate(sender: Any, **kw: Any) -> None:
    """The role groups and their permissions, the admin's model permissions included, after
    every migrate (and every test database flush)."""
    if getattr(sender, "label", "") == "accounts":
        from accounts.roles import ensure_role_groups

        ensure_role_groups()


def _connect_roles() -> None:
    from django.db.models.signals import post_migrate

    post_migrate.connect(_roles_after_migrate, dispatch_uid="scrm-roles-after-migrate")


_connect_roles()
