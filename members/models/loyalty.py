"""The growth system: tiers, benefits, milestones, gifts, the points ledger and its settings."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Bilingual(models.Model):
    """Operator-written text in both languages; ``name`` picks the reader's."""

    name_zh = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en

    def __str__(self) -> str:
        return self.name


class Benefit(Bilingual):
    class Kind(models.TextChoices):
        DISCOUNT = "discount", _("Discount")
        ADVISOR = "advisor", _("Named advisor")
        TRIAL = "trial", _("New-product trials")
        PRIORITY = "priority", _("Priority service")
        PRICE_PROTECTION = "price_protection", _("Price protection")
        OTHER = "other", _("Other")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    percent = models.PositiveSmallIntegerField(
        _("percent off"), null=True, blank=True, help_text=_("10 means 10 percent off (9折).")
    )

    class Meta:
        ordering = ["kind", "code"]
        verbose_name = _("benefit")
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | Q(percent__gte=1, percent__lte=99),
                name="benefit_percent_1_99",
            )
        ]

    @property
    def name(self) -> str:
        # The discount's name is rendered from its rate: 9折 is 10% off; never translate the string.
        if self.kind == self.Kind.DISCOUNT and self.percent:
            if (get_language() or "").startswith("zh"):
                zhe = Decimal(100 - self.percent) / 10
                return f"{zhe.normalize():f} 折"
            return f"{self.percent}% off"
        return super().name


class Tier(Bilingual):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    rank = models.PositiveSmallIntegerField(
        _("rank"), unique=True, help_text=_("0 is the entry tier.")
    )
    min_purchases = models.PositiveIntegerField(_("from purchase number"), null=True, blank=True)
    min_annual_spend = models.DecimalField(
        _("from spend in the window (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    multiplier = models.DecimalField(
        _("points multiplier"), max_digits=4, decimal_places=2, default=Decimal("1.00")
    )
    benefits = models.ManyToManyField(
        Benefit, blank=True, related_name="tiers", verbose_name=_("benefits")
    )
    rule_text_zh = models.TextField(_("rule text (Chinese)"), blank=True)
    rule_text_en = models.TextField(_("rule text (English)"), blank=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("tier")
        constraints = [
            models.CheckConstraint(condition=Q(multiplier__gt=0), name="tier_multiplier_gt_0"),
        ]

    @property
    def rule_text(self) -> str:
        return self.rule_text_zh if (get_language() or "").startswith("zh") else self.rule_text_en


class TierChange(models.Model):
    class Cause(models.TextChoices):
        ORDER = "order", _("Order")
        REFUND = "refund", _("Refund")
        DAILY = "daily", _("Yearly spend window")
        RULES = "rules", _("New rules")
        IMPORT = "import", _("Import")

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="tier_changes"
    )
    from_tier = models.ForeignKey(Tier, null=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    cause = models.CharField(max_length=10, choices=Cause.choices)
    order = models.ForeignKey(
        "members.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class Milestone(Bilingual):
    class Reward(models.TextChoices):
        GIFT = "gift", _("Gift")
        POINTS = "points", _("Bonus points")
        EVENT = "event", _("Event only (badges, messages)")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    at_purchase = models.PositiveIntegerField(_("at purchase number"), null=True, blank=True)
    at_spend = models.DecimalField(
        _("at lifetime spend (CNY)"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    reward = models.CharField(
        _("reward"), max_length=10, choices=Reward.choices, default=Reward.GIFT
    )
    gift_name_zh = models.CharField(_("gift (Chinese)"), max_length=100, blank=True)
    gift_name_en = models.CharField(_("gift (English)"), max_length=100, blank=True)
    points = models.PositiveIntegerField(_("bonus points"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["at_purchase", "at_spend", "code"]
        verbose_name = _("milestone")
        constraints = [
            models.CheckConstraint(
                condition=Q(at_purchase__isnull=False) | Q(at_spend__isnull=False),
                name="milestone_has_a_threshold",
            )
        ]

    @property
    def gift_name(self) -> str:
        return self.gift_name_zh if (get_language() or "").startswith("zh") else self.gift_name_en


class MilestoneReached(models.Model):
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="milestones"
    )
    milestone = models.ForeignKey(Milestone, on_delete=models.PROTECT, related_name="+")
    order = models.ForeignKey(
        "members.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reached_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "milestone"], name="milestone_once_per_member"
            )
        ]


class GiftGrant(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be handed over")
        FULFILLED = "fulfilled", _("Handed over")
        CANCELLED = "cancelled", _("Cancelled")

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="gifts")
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        "members.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    granted_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fulfilled_store = models.ForeignKey(
        "accounts.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-granted_at", "-id"]

    @property
    def name(self) -> str:
        return self.name_zh if (get_language() or "").startswith("zh") else self.name_en


# Why points moved, by code: the entry stores the code and its arguments and is read in the
# reader's language (``PointsEntry.reason_text``); ``reason`` keeps the text as written, and is the
# only text of an operator's own adjustment. An argument given as ``name_zh`` and ``name_en`` is
# read as ``name`` in the reader's language.
REASONS = {
    "order": _("Order %(order)s"),
    "debt": _("Points debt from an earlier refund"),
    "milestone": _("%(name)s"),
    "refund": _("Refund of order %(order)s"),
    "milestone_undone": _("Milestone undone by a refund: %(name)s"),
    "expired": _("Points expired"),
    "redeemed": _("Redeemed"),
    "reward": _("%(name)s"),
    "closed": _("Account closed"),
    "opening": _("Opening balance from %(file)s"),
}


class PointsEntry(models.Model):
    """One line of the append-only points ledger. The database refuses updates and deletes."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        BONUS = "bonus", _("Bonus")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        REVERSE = "reverse", _("Reversed")
        ADJUST = "adjust", _("Adjusted")

    member = models.ForeignKey(
        "members.Member", on_delete=models.PROTECT, related_name="points_entries"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    points = models.IntegerField()
    balance_after = models.IntegerField()
    reason = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField(max_length=24, blank=True, default="", db_default="")
    reason_args = models.JSONField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.ForeignKey(
        "members.Order",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="points_entries",
    )
    refund = models.ForeignKey(
        "members.Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reward = models.ForeignKey(
        "members.Reward", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["member", "-id"], name="points_member_id_idx"),
            models.Index(
                fields=["expires_at"], name="points_expires_idx", condition=Q(points__gt=0)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="points_balance_after_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["earn", "bonus"], points__gte=0)
                | Q(kind__in=["redeem", "expire", "reverse"], points__lte=0)
                | Q(kind="adjust"),
                name="points_sign_matches_kind",
            ),
        ]

    @property
    def reason_text(self) -> str:
        """Why the points moved, in the reader's language (the stored text when no code)."""
        template = REASONS.get(self.reason_code)
        if template is None:
            return self.reason
        args = dict(self.reason_args or {})
        if "name_zh" in args or "name_en" in args:
            zh = (get_language() or "").startswith("zh")
            args["name"] = args.get("name_zh" if zh else "name_en") or args.get("name_en") or ""
        try:
            return str(template) % args
        except (KeyError, TypeError, ValueError):
            return self.reason


class PointsExpiryNotice(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    points = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "expires_at"], name="expiry_notice_once")
        ]


class Reward(Bilingual):
    """The points catalogue: a voucher, a gift, or a donation to a charity item."""

    class Kind(models.TextChoices):
        VOUCHER = "voucher", _("Voucher")
        GIFT = "gift", _("Gift")
        DONATION = "donation", _("Donation")

    code = models.SlugField(_("code"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points_cost = models.PositiveIntegerField(_("points"))
    voucher_template = models.ForeignKey(
        "members.VoucherTemplate", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_active = models.BooleanField(_("active"), default=True)
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Empty: as many as members redeem.")
    )
    available_from = models.DateTimeField(_("offered from"), null=True, blank=True)
    available_until = models.DateTimeField(_("offered until"), null=True, blank=True)

    class Meta:
        ordering = ["points_cost", "code"]
        verbose_name = _("reward")

    @classmethod
    def offered(cls, now=None):
        """The rewards members may redeem now: switched on, within their dates, in stock."""
        now = now or timezone.now()
        return cls.objects.filter(
            Q(is_active=True)
            & (Q(available_from__isnull=True) | Q(available_from__lte=now))
            & (Q(available_until__isnull=True) | Q(available_until__gt=now))
            & (Q(stock__isnull=True) | Q(stock__gt=0))
        )


class LoyaltySettings(models.Model):
    """One row (pk=1): earning, expiry and tier-window rules the operator edits."""

    class Expiry(models.TextChoices):
        END_OF_NEXT_YEAR = "end_of_next_year", _("End of the year after earning")
        ROLLING = "rolling", _("A number of days after earning")
        NEVER = "never", _("Never")

    points_per_cny = models.DecimalField(
        _("points per CNY paid"), max_digits=6, decimal_places=2, default=Decimal("1.00")
    )
    points_per_cny_redeemed = models.PositiveIntegerField(_("points worth 1 CNY"), default=100)
    expiry_policy = models.CharField(
        _("points expiry"), max_length=20, choices=Expiry.choices, default=Expiry.END_OF_NEXT_YEAR
    )
    expiry_days = models.PositiveIntegerField(_("days until expiry (rolling)"), default=730)
    expiry_notice_days = models.PositiveIntegerField(_("notice before expiry (days)"), default=30)
    spend_window_days = models.PositiveIntegerField(_("spend window (days)"), default=365)
    grace_days = models.PositiveIntegerField(_("grace before a downgrade (days)"), default=30)
    one_purchase_per_day = models.BooleanField(_("count at most one purchase a day"), default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("loyalty settings")

    @classmethod
    def current(cls) -> LoyaltySettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class RulesVersion(models.Model):
    number = models.PositiveIntegerField(unique=True)
    snapshot = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-number"]


class IdempotencyRecord(models.Model):
    """The first answer to a POST that carried an Idempotency-Key, returned to its replays."""

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")
        ]
