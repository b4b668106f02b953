from __future__ import annotations

from datetime import datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts import roles
from accounts.models import AUDIT_ACTION_LABELS, ApiKey, AuditEntry, Store, User


def stores_for_user(user: User) -> QuerySet[Store]:
    """The active stores a staff member may act in: all for admins and operators, own for clerks."""
    qs = Store.objects.filter(is_active=True)
    if not user.is_authenticated or user.is_member_user:
        return qs.none()
    if _works_everywhere(user):
        return qs
    return qs.filter(staff=user)


def _works_everywhere(user: User) -> bool:
    """Admins and operators (who manage members) act in every store; from the cached permissions."""
    return user.is_superuser or user.has_perm("accounts.manage_members")


def staff_list(*, q: str = "", role: str = "", store: str = "") -> QuerySet[User]:
    qs = (
        User.objects.filter(kind=User.Kind.STAFF)
        .prefetch_related("groups", "stores")
        .order_by("-is_active", "email")
    )
    if q:
        qs = qs.filter(Q(email__icontains=q) | Q(name__icontains=q))
    if role == roles.ADMIN:
        qs = qs.filter(Q(is_superuser=True) | Q(groups__name=role))
    elif role:
        qs = qs.filter(groups__name=role)
    if store:
        qs = qs.filter(stores__code=store)
    return qs.distinct()


def apikey_list() -> QuerySet[ApiKey]:
    return ApiKey.objects.select_related("store", "created_by").order_by(
        "revoked_at", "-created_at"
    )


def audit_list(
    *,
    q: str = "",
    action: str = "",
    actor: str = "",
    target_type: str = "",
    date_from: datetime | None = None,
    date_to: datetime | None = None,
) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.select_related("actor")
    if q:
        qs = qs.filter(
            Q(target_label__icontains=q)
            | Q(actor_label__icontains=q)
            | Q(target_id=q)
            | Q(action__icontains=q)
        )
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if target_type:
        qs = qs.filter(target_type=target_type)
    tz = timezone.get_current_timezone()
    if date_from:
        qs = qs.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=tz))
    if date_to:
        qs = qs.filter(created_at__lte=datetime.combine(date_to, time.max, tzinfo=tz))
    return qs


def audit_action_choices() -> list[tuple[str, str]]:
    """(code, label) of each action the log holds, by label: people pick "Points adjusted", not
    ``points.adjusted``."""
    codes = AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct()
    return sorted(
        ((code, str(AUDIT_ACTION_LABELS.get(code, code))) for code in codes[:200]),
        key=lambda pair: pair[1],
    )


def audit_target_type_choices() -> list[str]:
    return list(
        AuditEntry.objects.exclude(target_type="")
        .order_by("target_type")
        .values_list("target_type", flat=True)
        .distinct()[:100]
    )
