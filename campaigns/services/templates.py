"""The console's writes about messages: templates (checked before they are saved), the guard
rails' defaults, resuming a paused channel, and a staff member's to-do marked done. Each one
transaction with its audit row."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_changes, audit_picture, audit_record
from campaigns import templating
from campaigns.models import ChannelState, Message, MessageSettings, MessageTemplate, StaffTask
from campaigns.models.messages import Channel
from scrm.exceptions import ApplicationError

TEMPLATE_FIELDS = ("code", "name", "channel", "language", "kind", "subject", "body", "is_active")
# A subject is sent by email and shown as the title in the portal inbox; SMS and WeCom have none.
SUBJECT_CHANNELS = (Channel.EMAIL, Channel.PORTAL)
SETTINGS_FIELDS = (
    "quiet_start",
    "quiet_end",
    "time_zone",
    "cap_count",
    "cap_days",
    "value_per_promotion",
    "ratio_window_days",
    "expiry_days",
    "max_attempts",
    "retry_base_seconds",
    "sms_opt_out_text",
)
# field -> (least, most) a guard rail may be set to.
SETTINGS_RANGES = {
    "cap_count": (0, 50),  # 0: no cap
    "cap_days": (1, 365),
    "value_per_promotion": (0, 20),  # 0: the value-to-promotion rule is off
    "ratio_window_days": (1, 365),
    "expiry_days": (1, 365),
    "max_attempts": (1, 20),
    "retry_base_seconds": (1, 86_400),
}


def _fail(fields: dict[str, list[str]]) -> ApplicationError:
    first = next(iter(fields.values()))[0]
    return ApplicationError(first, code="invalid", fields=fields)


# --- Templates ---------------------------------------------------------------------------------


@transaction.atomic
def template_save(
    *,
    template: MessageTemplate | None,
    data: Mapping[str, Any],
    actor: User | None,
    request: HttpRequest | None = None,
) -> MessageTemplate:
    """Create or change a message template. Refused, naming the fields, when the text has an
    unknown variable or an unclosed brace, an SMS takes too many billing parts, a marketing SMS
    does not end with the opt-out text, or an email has no subject (``template_problems``). The
    code stays as it is once created: a system template's code is the event it answers."""
    created = template is None
    values = {name: getattr(template, name) for name in TEMPLATE_FIELDS} if template else {}
    for name in TEMPLATE_FIELDS:
        if name in data and (created or name != "code"):
            value = data[name]
            values[name] = value.strip() if isinstance(value, str) and name != "body" else value
    if values.get("channel") not in SUBJECT_CHANNELS:
        values["subject"] = ""
    problems = templating.template_problems(
        channel=values.get("channel", ""),
        kind=values.get("kind", ""),
        body=values.get("body", ""),
        subject=values.get("subject", ""),
        opt_out_text=MessageSettings.current().sms_opt_out_text,
    )
    if problems:
        raise _fail(problems)
    obj = template or MessageTemplate()
    before = None if created else audit_picture(obj, TEMPLATE_FIELDS)
    for name, value in values.items():
        setattr(obj, name, value)
    obj.updated_at = timezone.now()
    obj.updated_by = actor if actor is not None and actor.pk else None
    try:
        obj.full_clean()
    except ValidationError as exc:
        fields = {
            ("code" if name == "__all__" else name): [str(m) for m in messages]
            for name, messages in exc.message_dict.items()
        }
        if (
            "code" in fields
            and MessageTemplate.objects.filter(
                code=obj.code, channel=obj.channel, language=obj.language
            )
            .exclude(pk=obj.pk)
            .exists()
        ):
            fields["code"] = [
                _("A template with this code already exists for this channel and language.")
            ]
        raise _fail(fields) from None
    obj.save()
    old, new = audit_changes(before, audit_picture(obj, TEMPLATE_FIELDS))
    audit_record(
        actor=actor,
        action="message_template.created" if created else "message_template.updated",
        target=obj,
        request=request,
        before=old,
        after=new,
    )
    return obj


@transaction.atomic
def template_delete(
    *, template: MessageTemplate, actor: User | None, request: HttpRequest | None = None
) -> None:
    """Delete a template no message was written from; one that was used is switched off
    instead (its messages keep naming it)."""
    if Message.objects.filter(template=template).exists():
        raise ApplicationError(
            _("Messages were written from this template: switch it off instead."),
            code="template_in_use",
            status_code=409,
        )
    audit_record(
        actor=actor,
        action="message_template.deleted",
        target=template,
        request=request,
        before=audit_picture(template, TEMPLATE_FIELDS),
    )
    template.delete()


# --- The guard rails' defaults -----------------------------------------------------------------


def settings_problems(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with the guard rails' values, by field (empty when they may be saved)."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    zone = str(data.get("time_zone") or "").strip()
    try:
        if not zone:
            raise ValueError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        add("time_zone", _("Enter a time zone such as Asia/Shanghai."))
    for name in ("quiet_start", "quiet_end"):
        if not isinstance(data.get(name), time):
            add(name, _("Enter a time such as 21:00."))
    for name, (least, most) in SETTINGS_RANGES.items():
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= most:
            add(
                name,
                _("Enter a whole number from %(least)s to %(most)s.")
                % {"least": least, "most": most},
            )
    text = str(data.get("sms_opt_out_text") or "").strip()
    if not text:
        add("sms_opt_out_text", _("Enter the opt-out text, such as 拒收请回复R."))
    elif len(text) > 30:
        add("sms_opt_out_text", _("Keep the opt-out text within 30 characters."))
    return problems


@transaction.atomic
def message_settings_save(
    *, data: Mapping[str, Any], actor: User | None, request: HttpRequest | None = None
) -> MessageSettings:
    """Change the guard rails every marketing message meets at send time. A quiet-hours start
    equal to its end means no quiet hours; a cap of 0 means no cap."""
    problems = settings_problems(data)
    if problems:
        raise _fail(problems)
    MessageSettings.current()
    obj = MessageSettings.objects.select_for_update().get(pk=1)
    before = audit_picture(obj, SETTINGS_FIELDS)
    for name in SETTINGS_FIELDS:
        value = data[name]
        setattr(obj, name, value.strip() if isinstance(value, str) else value)
    obj.updated_at = timezone.now()
    obj.save()
    old, new = audit_changes(before, audit_picture(obj, SETTINGS_FIELDS))
    if new:
        audit_record(
            actor=actor,
            action="message_settings.updated",
            target=obj,
            target_label=_("Message guard rails"),
            request=request,
            before=old,
            after=new,
        )
    return obj


# --- Channels ----------------------------------------------------------------------------------


@transaction.atomic
def channel_resume(*, channel: str, actor: User | None, request: HttpRequest | None = None) -> bool:
    """Un-pause a channel paused after a configuration failure: its held messages are relayed
    again. Returns False when the channel was not paused (nothing changes)."""
    if channel not in Channel.values:
        raise ApplicationError(_("Unknown channel."), code="unknown_channel", status_code=404)
    state = ChannelState.objects.select_for_update().filter(channel=channel).first()
    if state is None or not state.paused:
        return False
    reason = state.reason
    state.paused = False
    state.resumed_at = timezone.now()
    state.save(update_fields=["paused", "resumed_at"])
    audit_record(
        actor=actor,
        action="channel.resumed",
        target=state,
        target_label=str(Channel(channel).label),
        request=request,
        before={"paused": True, "reason": reason[:500]},
        after={"paused": False},
    )
    return True


# --- Staff to-dos ------------------------------------------------------------------------------


@transaction.atomic
def staff_task_done(*, task_id: int, actor: User, request: HttpRequest | None = None) -> StaffTask:
    """Mark a WeCom message sent by hand. Only the task's owner may; marking it again changes
    nothing. Another staff member's task is not found (404)."""
    task = StaffTask.objects.select_for_update().filter(pk=task_id, owner=actor).first()
    if task is None:
        raise ApplicationError(_("No such task in your list."), code="not_found", status_code=404)
    if task.done_at is not None:
        return task
    task.done_at = timezone.now()
    task.done_by = actor
    task.save(update_fields=["done_at", "done_by"])
    audit_record(
        actor=actor,
        action="staff_task.done",
        target=task,
        target_label=task.member.code,
        request=request,
        after={"message": task.message_id},
    )
    return task
