from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts import roles
from accounts.roles import PERMISSIONS


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


class Store(models.Model):
    code = models.CharField(
        _("code"),
        max_length=16,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z0-9][A-Z0-9-]{1,15}$",
                _("Use 2-16 capital letters, digits or dashes, e.g. SH01"),
            )
        ],
    )
    name = models.CharField(_("name"), max_length=100)
    city = models.CharField(_("city"), max_length=60)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Asia/Shanghai", validators=[validate_time_zone]
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str | None = None, password: str | None = None, **extra) -> User:
        if email:
            email = self.normalize_email(email).lower()
        user = self.model(email=email or None, **extra)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str, **extra) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        extra.setdefault("kind", User.Kind.STAFF)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Staff sign in with email and password; members sign in to the portal with phone and code."""

    class Kind(models.TextChoices):
        STAFF = "staff", _("Staff")
        MEMBER = "member", _("Member")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.STAFF)
    email = models.EmailField(_("email"), unique=True, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, unique=True, null=True, blank=True)
    phone_verified = models.BooleanField(_("phone verified"), default=False)
    name = models.CharField(_("name"), max_length=100, blank=True)
    stores = models.ManyToManyField(
        Store, blank=True, related_name="staff", verbose_name=_("stores")
    )
    is_staff = models.BooleanField(
        _("Django admin access"),
        default=False,
        help_text=_("Only admins may open Django's admin site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined at"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        permissions = list(PERMISSIONS.items())
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="member", phone__isnull=False)
                | Q(kind="staff", email__isnull=False),
                name="user_staff_has_email_member_has_phone",
            )
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"user {self.pk}"

    def clean(self) -> None:
        super().clean()
        if self.email:
            self.email = self.email.strip().lower()

    @property
    def role(self) -> str | None:
        """The highest staff role held, ``member`` for portal users, or None."""
        if self.kind == self.Kind.MEMBER:
            return roles.MEMBER
        if self.is_superuser:
            return roles.ADMIN
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            from django.core.cache import cache

            from accounts.backends import TTL, permissions_version

            # Cached with the permission sets: any change of roles drops it.
            key = f"scrm:role:{permissions_version()}:{self.pk}"
            cached = cache.get(key)
            if cached is None:
                names = set(self.groups.values_list("name", flat=True))
                cached = next((r for r in roles.STAFF_ROLES if r in names), "")
                cache.set(key, cached, TTL)
            self._role_cache = cached
        return cached or None

    @property
    def role_label(self) -> str:
        return str(roles.ROLE_LABELS.get(self.role or "", ""))

    @property
    def is_member_user(self) -> bool:
        return self.kind == self.Kind.MEMBER

    @property
    def display_name(self) -> str:
        return self.name or self.email or self.phone or ""


class ApiKey(models.Model):
    """An integration's credential. Only a SHA-256 of the secret is kept; the key is shown once."""

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
        verbose_name=_("store"),
        help_text=_("Limit the key to one store, e.g. a store's POS."),
    )
    rate_per_minute = models.PositiveIntegerField(
        _("requests per minute"),
        null=True,
        blank=True,
        help_text=_("Leave empty for the default."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} (scrm_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def effective_rate(self) -> int:
        return self.rate_per_minute or settings.SCRM_API_DEFAULT_RATE_PER_MINUTE

    # DRF treats request.auth as the credential; these let permission checks stay simple.
    is_authenticated = True


# Actions later apps record add their own labels here through ``register_audit_actions``.
AUDIT_ACTION_LABELS: dict[str, object] = {
    "auth.signed_in": pgettext_lazy("audit action", "Signed in"),
    "auth.sign_in_failed": pgettext_lazy("audit action", "Sign-in failed"),
    "auth.code_locked": pgettext_lazy("audit action", "Code sign-in locked after wrong codes"),
    "store.created": pgettext_lazy("audit action", "Store created"),
    "store.updated": pgettext_lazy("audit action", "Store updated"),
    "staff.created": pgettext_lazy("audit action", "Staff member created"),
    "staff.updated": pgettext_lazy("audit action", "Staff member updated"),
    "apikey.created": pgettext_lazy("audit action", "API key created"),
    "apikey.revoked": pgettext_lazy("audit action", "API key revoked"),
    "member.enrolled": pgettext_lazy("audit action", "Member enrolled"),
    "counter.lookup": pgettext_lazy("audit action", "Member look-up at the counter"),
}


def register_audit_actions(labels: dict[str, object]) -> None:
    AUDIT_ACTION_LABELS.update(labels)


def _readable(value: object) -> object:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_readable(v)}" for k, v in value.items()) or "—"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_readable(v)) for v in value) or "—"
    return value


class AuditEntry(models.Model):
    """Append-only record of who changed what. Rows are never updated or deleted."""

    class Via(models.TextChoices):
        WEB = "web", _("Web")
        API = "api", _("API")
        CLI = "cli", _("Command line")
        SYSTEM = "system", _("System")

    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(_("actor"), max_length=200, blank=True)
    via = models.CharField(_("via"), max_length=10, choices=Via.choices, default=Via.WEB)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    target_type = models.CharField(_("target type"), max_length=64, blank=True, db_index=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_label = models.CharField(_("target"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValidationError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit entries are append-only.")

    @property
    def action_label(self) -> str:
        return str(AUDIT_ACTION_LABELS.get(self.action, self.action))

    @property
    def changed_fields(self) -> list[tuple[str, object, object]]:
        """(field, before, after) of what changed, each value as a person reads it: a mapping as
        "李娜: 1, 王芳: 2", a list as "a, b", a yes/no as 是/否 (never a Python repr)."""
        before = self.before or {}
        after = self.after or {}
        keys = sorted(set(before) | set(after))
        return [
            (k, _readable(before.get(k)), _readable(after.get(k)))
            for k in keys
            if before.get(k) != after.get(k)
        ]
