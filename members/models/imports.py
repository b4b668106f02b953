from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ImportJob(models.Model):
    """A CSV file of orders or members: validated whole first, then applied all at once."""

    class Kind(models.TextChoices):
        ORDERS = "orders", _("Orders")
        MEMBERS = "members", _("Members")

    class Status(models.TextChoices):
        VALIDATING = "validating", _("Checking the file")
        INVALID = "invalid", _("Has errors")
        READY = "ready", _("Ready to apply")
        APPLYING = "applying", _("Applying")
        DONE = "done", _("Applied")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    filename = models.CharField(_("file name"), max_length=200)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.VALIDATING
    )
    total_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text="[{row, field, message}], the first 5,000"
    )
    skip_bad_rows = models.BooleanField(default=False)
    applied_rows = models.PositiveIntegerField(default=0)
    created_records = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=500, blank=True)
    # Who applies the file: "host:pid:token" of the worker that claimed it, and since when. A job
    # at "applying" with no claimant is waiting for a worker (since ``claimed_at``: the confirm).
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Failed while applying (its worker stopped, an unexpected error): the operator may apply
    # the same file again. A file that failed on its rows is fixed and uploaded again instead.
    can_apply_again = models.BooleanField(default=False)
    # The language of the operator who confirmed: messages written later are stored in it.
    language = models.CharField(max_length=10, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import")

    @property
    def valid_rows(self) -> int:
        return self.total_rows - self.error_rows
