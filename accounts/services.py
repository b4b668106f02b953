"""Every write of the accounts app: audit, stores, staff, API keys, portal users."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import roles
from accounts.models import ApiKey, AuditEntry, Store, User
from scrm.exceptions import ApplicationError

AUDIT_SKIP_FIELDS = {"password", "key_hash", "last_login"}


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    from django.conf import settings

    if getattr(settings, "SCRM_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip() or None
    return request.META.get("REMOTE_ADDR") or None


def snapshot(instance: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """A JSON-able picture of a model instance for the audit log's before/after."""
    data: dict[str, Any] = {}
    for f in instance._meta.concrete_fields:
        if f.name in AUDIT_SKIP_FIELDS or (fields is not None and f.name not in fields):
            continue
        value = getattr(instance, f.attname)
        if f.is_relation and value is not None:
            # A readable label ("SH01 上海静安店"), not a bare id, for people reading the log.
            value = str(getattr(instance, f.name))
        elif value is not None and not isinstance(value, (str, int, float, bool)):
            value = str(value)
        data[f.name] = value
    return data


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: models.Model | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
    via: str | None = None,
    target_label: str | None = None,
) -> AuditEntry:
    """Append one audit row. Call it inside the transaction of the change it records."""
    if via is None:
        via = AuditEntry.Via.WEB if request is not None else AuditEntry.Via.SYSTEM
    actor_obj = actor if actor is not None and getattr(actor, "pk", None) else None
    entry = AuditEntry(
        actor=actor_obj,
        # Empty for the system: pages show "System" in the reader's language.
        actor_label=(actor_obj.display_name if actor_obj else "")[:200],
        via=via,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=(target_label or (str(target) if target is not None else ""))[:200],
        before=before,
        after=after,
        ip=client_ip(request),
    )
    entry.full_clean(exclude=["actor"])  # the actor comes from the code, not from input
    entry.save()
    return entry


def audit_picture(instance: models.Model, names: Iterable[str]) -> dict[str, Any]:
    """A picture of ``names`` for the audit log people read: local times, amounts as text, a
    related row by its label."""
    from datetime import datetime, time

    out: dict[str, Any] = {}
    for name in names:
        f = instance._meta.get_field(name)
        value = getattr(instance, name)
        if value is None:
            out[name] = None
        elif f.is_relation:
            out[name] = str(value)
        elif isinstance(value, datetime):
            out[name] = timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
        elif isinstance(value, time):
            out[name] = value.strftime("%H:%M")
        elif isinstance(value, str | int | bool):
            out[name] = value
        else:
            out[name] = str(value)
    return out


def audit_changes(
    before: dict[str, Any] | None, after: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Only what changed of two pictures (everything, for a new row: ``before`` None)."""
    if before is None:
        return None, after
    changed = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in changed}, {k: after[k] for k in changed}


AUDIT_COLUMNS = [
    "created_at",
    "actor_id",
    "actor_label",
    "via",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "ip",
]


def audit_record_many(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    targets: Iterable[tuple[int, str, dict[str, Any] | None, dict[str, Any] | None]],
    via: str,
) -> int:
    """``audit_record`` for many targets of one model at once (a file applied in bulk): one row
    per (id, label, before, after), written with COPY on PostgreSQL. Returns the rows written."""
    from django.db import connection

    from scrm.bulk import copy_rows, rows_to_instances

    actor_id = actor.pk if actor is not None and actor.pk else None
    actor_label = (actor.display_name if actor is not None and actor_id else "")[:200]
    now = timezone.now()
    postgres = connection.vendor == "postgresql"
    dump = (
        (lambda d: json.dumps(d, ensure_ascii=False) if d is not None else None)
        if postgres
        else (lambda d: d)
    )
    rows = [
        (
            now,
            actor_id,
            actor_label,
            via,
            action,
            target_type,
            str(pk),
            label[:200],
            dump(before),
            dump(after),
            None,
        )
        for pk, label, before, after in targets
    ]
    if postgres:
        copy_rows(AuditEntry, AUDIT_COLUMNS, rows)
    else:
        AuditEntry.objects.bulk_create(rows_to_instances(AuditEntry, AUDIT_COLUMNS, rows))
    return len(rows)


# --- Stores ---------------------------------------------------------------------------------


@transaction.atomic
def store_save(
    *,
    store: Store | None = None,
    data: dict[str, Any],
    actor: User | None,
    request: HttpRequest | None = None,
) -> Store:
    creating = store is None
    # Re-read under lock: a bound ModelForm has already written the new values onto its instance.
    store = Store() if store is None else Store.objects.select_for_update().get(pk=store.pk)
    before = None if creating else snapshot(store)
    for key, value in data.items():
        setattr(store, key, value)
    store.full_clean()
    store.save()
    audit_record(
        actor=actor,
        action="store.created" if creating else "store.updated",
        target=store,
        before=before,
        after=snapshot(store),
        request=request,
    )
    return store


# --- Staff ----------------------------------------------------------------------------------


def _staff_state(user: User) -> dict[str, Any]:
    state = snapshot(user, ["email", "name", "is_active", "is_staff"])
    state["role"] = user.role
    state["stores"] = sorted(user.stores.values_list("code", flat=True))
    return state


@transaction.atomic
def staff_save(
    *,
    user: User | None = None,
    email: str,
    name: str,
    role: str,
    stores: Iterable[Store] = (),
    is_active: bool = True,
    password: str | None = None,
    actor: User | None,
    request: HttpRequest | None = None,
) -> User:
    """Create or update a staff account with exactly one role. Admins also get Django admin."""
    if role not in roles.STAFF_ROLES:
        raise ApplicationError(
            _("Choose a role."), code="invalid", fields={"role": [_("Choose a role.")]}
        )
    stores = list(stores)
    if role == roles.CLERK and not stores:
        raise ApplicationError(
            _("A clerk must belong to at least one store."),
            fields={"stores": [_("A clerk must belong to at least one store.")]},
        )
    creating = user is None
    if (
        not creating
        and actor is not None
        and user == actor
        and (role != roles.ADMIN or not is_active)
    ):
        raise ApplicationError(_("You cannot remove your own admin role or deactivate yourself."))
    email = email.strip().lower()
    clash = User.objects.filter(email=email)
    if user is not None:
        clash = clash.exclude(pk=user.pk)
    if clash.exists():
        raise ApplicationError(
            _("Another account already uses this email."),
            code="email_taken",
            fields={"email": [_("Another account already uses this email.")]},
        )
    before = None if user is None else _staff_state(user)
    user = user or User(kind=User.Kind.STAFF)
    user.email = email
    user.name = name.strip()
    user.is_active = is_active
    user.is_staff = role == roles.ADMIN
    if password:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, user)
        user.set_password(password)
    elif creating:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    user.stores.set(stores)
    user.__dict__.pop("_role_cache", None)
    audit_record(
        actor=actor,
        action="staff.created" if creating else "staff.updated",
        target=user,
        before=before,
        after=_staff_state(user),
        request=request,
    )
    return user


# --- API keys -------------------------------------------------------------------------------

KEY_PREFIX = "scrm"


def apikey_hash(secret: str) -> str:
    # Keys are 256-bit random; a fast hash is right here (a slow KDF buys nothing and
    # would make every API call expensive).
    return hashlib.sha256(secret.encode()).hexdigest()


def apikey_parse(raw: str) -> tuple[str, str] | None:
    parts = raw.strip().split("_", 2)  # the secret itself may contain "_"
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], raw.strip()


@transaction.atomic
def apikey_create(
    *,
    name: str,
    store: Store | None = None,
    rate_per_minute: int | None = None,
    actor: User | None,
    request: HttpRequest | None = None,
    via: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plain text, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise ApplicationError(
            _("Give the key a name."), fields={"name": [_("This field is required.")]}
        )
    prefix = secrets.token_hex(4)
    while ApiKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    plain = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=apikey_hash(plain),
        store=store,
        rate_per_minute=rate_per_minute,
        created_by=actor if actor and actor.pk else None,
    )
    key.full_clean()
    key.save()
    audit_record(
        actor=actor,
        action="apikey.created",
        target=key,
        after=snapshot(key),
        request=request,
        via=via,
    )
    return key, plain


@transaction.atomic
def apikey_revoke(*, key: ApiKey, actor: User | None, request: HttpRequest | None = None) -> ApiKey:
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    before = snapshot(key)
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="apikey.revoked",
        target=key,
        before=before,
        after=snapshot(key),
        request=request,
    )
    return key


def apikey_authenticate(raw: str) -> ApiKey | None:
    parsed = apikey_parse(raw)
    if parsed is None:
        return None
    prefix, plain = parsed
    key = ApiKey.objects.select_related("store").filter(prefix=prefix).first()
    if key is None or key.revoked_at is not None:
        return None
    if not secrets.compare_digest(key.key_hash, apikey_hash(plain)):
        return None
    now = timezone.now()
    # Touch at most once a minute: a write per request would serialize a busy integration.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


# --- Portal users ---------------------------------------------------------------------------


@transaction.atomic
def portal_user_get_or_create(*, phone: str, name: str = "") -> User:
    """The member-kind user that signs in with ``phone``; made on first sign-in."""
    user = User.objects.select_for_update().filter(phone=phone).first()
    if user is None:
        user = User(kind=User.Kind.MEMBER, phone=phone, name=name)
        user.set_unusable_password()
        user.full_clean(exclude=["password"])
        user.save()
    return user
