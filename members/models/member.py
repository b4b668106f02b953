from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Store
from accounts.phones import mask_phone

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed at a till


class Member(models.Model):
    """A customer, identified by an E.164 phone and a short code. The next issues extend it."""

    class Channel(models.TextChoices):
        STORE = "store", _("Store")
        ONLINE = "online", _("Online shop")
        MINI_PROGRAM = "mini_program", _("Mini-program")
        REFERRAL = "referral", _("Referral")
        EVENT = "event", _("Event")
        IMPORT = "import", _("Import")

    class Frequency(models.TextChoices):
        ANY = "any", _("As it comes")
        WEEKLY = "weekly", _("At most weekly")
        MONTHLY = "monthly", _("At most monthly")
        SERVICE = "service", _("Service messages only")

    class Stage(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        FIRST = "first_purchase", _("First purchase")
        SECOND = "second_purchase", _("Second purchase")
        REPEAT = "repeat", _("Repeat")
        LOYAL = "loyal", _("Loyal")
        DORMANT = "dormant", _("Dormant")
        LAPSED = "lapsed", _("Lapsed")

    class ValueClass(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"

    CONSENT_CHANNELS = ("sms", "email", "wecom", "portal")

    code = models.CharField(_("member code"), max_length=12, unique=True)
    phone = models.CharField(
        _("phone"),
        max_length=20,
        unique=True,
        validators=[RegexValidator(r"^\+[1-9]\d{6,14}$", _("Enter an 11-digit mobile number"))],
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    email = models.EmailField(_("email"), blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("store"),
        db_index=False,  # member_store_joined_idx (store, -joined_at) serves store look-ups
    )
    channel = models.CharField(
        _("first-touch channel"), max_length=20, choices=Channel.choices, default=Channel.STORE
    )
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now, db_index=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="member",
        verbose_name=_("portal login"),
    )
    # Last four digits, indexed: the counter's most common look-up.
    phone_last4 = models.CharField(max_length=4, editable=False, default="")

    # Loyalty state, cached on the row that every order and refund locks first. The ledger and
    # the orders are the truth; these are kept equal to them in the same transactions.
    tier = models.ForeignKey(
        "members.Tier",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        verbose_name=_("tier"),
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    downgrade_due_at = models.DateTimeField(_("downgrade due at"), null=True, blank=True)
    points_balance = models.IntegerField(_("points balance"), default=0)
    points_debt = models.IntegerField(_("points debt"), default=0)
    purchase_count = models.IntegerField(_("purchases"), default=0)
    lifetime_spend = models.DecimalField(
        _("lifetime spend"), max_digits=14, decimal_places=2, default=0
    )
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True)

    # Ownership: the company owns the relationship; a staff member looks after it.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_members",
        verbose_name=_("owner"),
    )

    # Consent: the current state per channel (the history is in ConsentRecord) and the member's
    # own limits. An opt-out removes the member from every marketing audience at once.
    consent_sms = models.BooleanField(_("SMS"), default=False)
    consent_email = models.BooleanField(_("email"), default=False)
    consent_wecom = models.BooleanField(_("WeCom"), default=False)
    consent_portal = models.BooleanField(_("portal messages"), default=False)
    marketing_opt_out = models.BooleanField(_("opted out of marketing"), default=False)
    frequency = models.CharField(
        _("message frequency"), max_length=12, choices=Frequency.choices, default=Frequency.ANY
    )

    # Lifecycle, RFM and prediction: recomputed set-based every night and for one member on each
    # order and refund (members.services.lifecycle).
    lifecycle_stage = models.CharField(
        _("lifecycle stage"),
        max_length=20,
        choices=Stage.choices,
        default=Stage.PROSPECT,
    )
    lifecycle_since = models.DateTimeField(_("stage since"), null=True, blank=True)
    rfm_r = models.PositiveSmallIntegerField(_("recency score"), default=0)
    rfm_f = models.PositiveSmallIntegerField(_("frequency score"), default=0)
    rfm_m = models.PositiveSmallIntegerField(_("monetary score"), default=0)
    value_class = models.CharField(
        _("value class"), max_length=1, choices=ValueClass.choices, blank=True
    )
    price_sensitivity = models.DecimalField(
        _("price sensitivity"), max_digits=4, decimal_places=3, null=True, blank=True
    )
    purchase_interval_days = models.PositiveIntegerField(
        _("days between purchases"), null=True, blank=True
    )
    next_purchase_due = models.DateField(_("next purchase due"), null=True, blank=True)
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True)

    class Meta:
        ordering = ["-joined_at", "-id"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        indexes = [
            models.Index(fields=["store", "-joined_at"], name="member_store_joined_idx"),
            models.Index(fields=["next_purchase_due"], name="member_next_due_idx"),
            # Plain b-trees: exact matches only, so no second "LIKE" index on each row write.
            models.Index(fields=["phone_last4"], name="member_last4_idx"),
            models.Index(fields=["lifecycle_stage"], name="member_stage_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(points_balance__gte=0), name="member_points_balance_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(points_debt__gte=0), name="member_points_debt_gte_0"
            ),
            models.CheckConstraint(
                condition=models.Q(purchase_count__gte=0), name="member_purchase_count_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.label(self.name, self.phone, self.code)

    @staticmethod
    def label(name: str, phone: str, code: str) -> str:
        """How a member is named in lists and the audit log, without an instance."""
        return f"{name or mask_phone(phone)} ({code})"

    def save(self, *args, **kwargs) -> None:
        self.phone_last4 = self.phone[-4:]
        super().save(*args, **kwargs)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def marketable_channels(self) -> list[str]:
        """Channels marketing may use now: consent given and no opt-out."""
        if self.marketing_opt_out or self.frequency == self.Frequency.SERVICE or self.erased_at:
            return []
        return [c for c in self.CONSENT_CHANNELS if getattr(self, f"consent_{c}")]
