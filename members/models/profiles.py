"""What staff know about a member so they can care for them: typed profiles, children and pets,
operator-defined attributes, tags, notes, the consent history and ownership changes."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    """Taste and skin, one row a member. Lists are stored as text with one item a line."""

    class Sweetness(models.TextChoices):
        NONE = "none", _("No sugar")
        LOW = "low", _("Less sweet")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("Sweet tooth")

    class SkinType(models.TextChoices):
        DRY = "dry", _("Dry")
        OILY = "oily", _("Oily")
        COMBINATION = "combination", _("Combination")
        SENSITIVE = "sensitive", _("Sensitive")
        NORMAL = "normal", _("Normal")

    member = models.OneToOneField(
        "members.Member", on_delete=models.CASCADE, related_name="profile"
    )
    likes = models.CharField(_("liked flavours"), max_length=300, blank=True)
    dislikes = models.CharField(_("disliked flavours"), max_length=300, blank=True)
    sweetness = models.CharField(
        _("sweetness"), max_length=10, choices=Sweetness.choices, blank=True
    )
    allergies = models.CharField(_("allergies"), max_length=300, blank=True)
    diet = models.CharField(_("diet"), max_length=300, blank=True)
    skin_type = models.CharField(
        _("skin type"), max_length=12, choices=SkinType.choices, blank=True, db_index=True
    )
    skin_concerns = models.CharField(_("skin concerns"), max_length=300, blank=True)
    skin_sensitivity = models.CharField(_("season sensitivity"), max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("profile")

    TASTE_FIELDS = ("likes", "dislikes", "sweetness", "allergies", "diet")
    SKIN_FIELDS = ("skin_type", "skin_concerns", "skin_sensitivity")

    def __str__(self) -> str:
        return f"profile of {self.member_id}"


def months_between(start: date, end: date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


class Child(models.Model):
    class Stage(models.TextChoices):
        PREGNANCY = "pregnancy", _("Pregnancy")
        NEWBORN = "newborn", _("0–6 months")
        INFANT = "infant", _("6–12 months")
        TODDLER = "toddler", _("Toddler (1–3 years)")
        PRESCHOOL = "preschool", _("Preschool (3–6 years)")
        OLDER = "older", _("6 years and older")

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="children")
    name = models.CharField(_("name"), max_length=50, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True, db_index=True)
    due_date = models.DateField(_("due date"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["birth_date", "due_date", "id"]
        verbose_name = _("child")
        verbose_name_plural = _("children")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(birth_date__isnull=False) | models.Q(due_date__isnull=False),
                name="child_has_birth_or_due_date",
            )
        ]

    def __str__(self) -> str:
        return self.name or str(self.pk)

    def stage(self, today: date | None = None) -> str:
        """Computed from the dates, never typed."""
        return child_stage(self.birth_date, self.due_date, today or timezone.localdate())

    @property
    def stage_label(self) -> str:
        stage = self.stage()
        return str(self.Stage(stage).label) if stage else ""


# Stage boundaries in months of age: [from, to).
CHILD_STAGE_MONTHS = {
    Child.Stage.NEWBORN: (0, 6),
    Child.Stage.INFANT: (6, 12),
    Child.Stage.TODDLER: (12, 36),
    Child.Stage.PRESCHOOL: (36, 72),
}


def child_stage(birth_date: date | None, due_date: date | None, today: date) -> str:
    if birth_date is None or birth_date > today:
        return Child.Stage.PREGNANCY if (due_date or birth_date) else ""
    months = months_between(birth_date, today)
    for stage, (low, high) in CHILD_STAGE_MONTHS.items():
        if low <= months < high:
            return stage
    return Child.Stage.OLDER


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (or earlier), clamped to the month's end."""
    import calendar

    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


class Pet(models.Model):
    class Species(models.TextChoices):
        DOG = "dog", _("Dog")
        CAT = "cat", _("Cat")
        OTHER = "other", _("Other")

    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="pets")
    name = models.CharField(_("name"), max_length=50)
    species = models.CharField(
        _("species"), max_length=10, choices=Species.choices, default=Species.DOG
    )
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    vaccinations = models.JSONField(
        _("vaccination dates"), default=list, blank=True, help_text="ISO dates"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name = _("pet")
        verbose_name_plural = _("pets")

    def __str__(self) -> str:
        return self.name


class AttributeDefinition(models.Model):
    """A custom attribute an operator adds to every member: text, number, date or choice."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(_("key"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=60)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["label"]
        verbose_name = _("custom attribute")

    def __str__(self) -> str:
        return self.label


class AttributeValue(models.Model):
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="attribute_values"
    )
    attribute = models.ForeignKey(
        AttributeDefinition, on_delete=models.CASCADE, related_name="values"
    )
    text = models.CharField(max_length=300, blank=True)
    number = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    date = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "attribute"], name="attr_value_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.attribute_id}={self.value}"

    @property
    def value(self):
        kind = self.attribute.kind
        if kind == AttributeDefinition.Kind.NUMBER:
            return self.number
        if kind == AttributeDefinition.Kind.DATE:
            return self.date
        return self.text


class Tag(models.Model):
    """A free tag, or an automatic one that a rule keeps up to date (for now: bought a category)."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Manual")
        AUTO = "auto", _("Automatic")

    name = models.CharField(_("name"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.MANUAL)
    rule_category = models.CharField(
        _("bought category"),
        max_length=64,
        blank=True,
        help_text=_("Automatic tags: members who bought from this category."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")

    def __str__(self) -> str:
        return self.name

    @property
    def rule_category_label(self) -> str:
        from members.models.catalog import category_label

        return category_label(self.rule_category)


class MemberTag(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="tags")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="member_tags")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "tag"], name="member_tag_uniq")]
        indexes = [models.Index(fields=["tag", "member"], name="member_tag_tag_idx")]

    def __str__(self) -> str:
        return f"{self.member_id}:{self.tag_id}"


class Note(models.Model):
    member = models.ForeignKey("members.Member", on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("note"), max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("note")

    def __str__(self) -> str:
        return self.body[:40]


class ConsentRecord(models.Model):
    """Append-only history of consent: which channel, given or withdrawn, when and how."""

    class Source(models.TextChoices):
        STORE = "store", _("At the counter")
        PORTAL = "portal", _("In the portal")
        API = "api", _("Through the API")
        IMPORT = "import", _("By import")
        CONSOLE = "console", _("By an operator")
        # The messages' own ways out (campaigns): RFC 8058 one-click, the link, an SMS reply.
        ONE_CLICK = "one_click", _("One-click unsubscribe")
        LINK = "link", _("Unsubscribe link")
        SMS_REPLY = "sms_reply", _("SMS reply")

    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="consent_records"
    )
    channel = models.CharField(_("channel"), max_length=12)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("how"), max_length=10, choices=Source.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("consent record")

    def __str__(self) -> str:
        return f"{self.member_id} {self.channel}={self.granted}"


class OwnershipChange(models.Model):
    member = models.ForeignKey(
        "members.Member", on_delete=models.CASCADE, related_name="ownership_changes"
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_store = models.ForeignKey(
        "accounts.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_store = models.ForeignKey(
        "accounts.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    handover = models.CharField(max_length=32, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ownership change")

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_owner_id} -> {self.to_owner_id}"
