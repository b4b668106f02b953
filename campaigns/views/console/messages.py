"""Messages in the console: the log of every message with its status and reason, one message's
attempts, one member's messages, the templates with a live preview on a chosen member, the guard
rails' defaults with the channels' state, and each staff member's to-do list of WeCom messages to
send by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from campaigns import templating
from campaigns.forms import MessageFilterForm, MessageSettingsForm, MessageTemplateForm
from campaigns.models import Message, MessageSettings, MessageTemplate
from campaigns.models.messages import Channel
from campaigns.selectors.messages import (
    STATUS_BADGES,
    channel_states,
    member_channels,
    member_message_counts,
    member_messages,
    message_detail,
    message_log,
    message_task,
    reason_label,
    staff_tasks_done,
    staff_tasks_open,
    template_used,
    templates_list,
)
from campaigns.services.outbox import member_context
from campaigns.services.templates import (
    SETTINGS_FIELDS,
    SUBJECT_CHANNELS,
    channel_resume,
    message_settings_save,
    staff_task_done,
    template_delete,
    template_save,
)
from members.models import Member
from scrm import shells
from scrm.exceptions import ApplicationError, form_errors_add
from scrm.parsing import int_or_none, typed

PERMS = ("use_console", "manage_members")
PAGE_SIZE = 50


def _decorated(rows: Any) -> list[Message]:
    """Messages with their status badge's class and their reason in words, for the tables."""
    out = list(rows)
    for m in out:
        m.badge = STATUS_BADGES.get(m.status, "")
        m.reason_text = reason_label(m.reason) if m.reason else ""
    return out


# --- The message log ---------------------------------------------------------------------------


@staff_required(*PERMS)
def message_log_page(request: HttpRequest) -> HttpResponse:
    form = MessageFilterForm(request.GET if request.GET else None)
    filters = form.filters()
    page = Paginator(message_log(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _decorated(page.object_list)
    template = (
        "campaigns/messages/log.html#message-table"
        if request.htmx
        else "campaigns/messages/log.html"
    )
    return render(
        request,
        template,
        {"form": form, "page": page, "filtered": bool(filters), "active": "messages"},
    )


@staff_required(*PERMS)
def message_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    message = message_detail(pk)
    if message is None:
        raise Http404
    _decorated([message])
    return render(
        request,
        "campaigns/messages/detail.html",
        {
            "m": message,
            "attempts": list(message.attempt_rows.all()),
            "task": message_task(message) if message.channel == Channel.WECOM else None,
            "active": "messages",
        },
    )


@staff_required(*PERMS)
def member_messages_page(request: HttpRequest, code: str) -> HttpResponse:
    member = get_object_or_404(Member.objects.select_related("store"), code=code.upper())
    page = Paginator(member_messages(member), PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = _decorated(page.object_list)
    counts = member_message_counts(member)
    return render(
        request,
        "campaigns/messages/member.html",
        {
            "member": member,
            "page": page,
            "counts": [
                (value, label, counts.get(value, 0)) for value, label in Message.Status.choices
            ],
            "channels": member_channels(member),
            "active": "messages",
        },
    )


# --- Templates and their preview ---------------------------------------------------------------


@staff_required(*PERMS)
def template_list(request: HttpRequest) -> HttpResponse:
    channel = request.GET.get("channel", "")
    channel = channel if channel in Channel.values else ""
    q = typed(request.GET.get("q", "")).strip()[:64]
    page = Paginator(templates_list(channel=channel, q=q), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "campaigns/messages/template_list.html",
        {
            "page": page,
            "channel": channel,
            "channels": Channel.choices,
            "q": q,
            "active": "messages",
        },
    )


def _sample_context() -> dict[str, Any]:
    """Values for a preview without a member (none typed, or no member has the code)."""
    return {
        "name": pgettext("sample member", "Xiaoyu Lin"),
        "member_code": "MDEMO23",
        "tier": pgettext("sample tier", "Gold"),
        "points": 1280,
        "store": pgettext("sample store", "Jing'an flagship"),
    }


def _example_extra() -> dict[str, Any]:
    """The variables a message carries from its event (a voucher, a gift, expiring points): a
    member has none of their own, so the preview fills in examples."""
    return {
        "voucher": pgettext("sample voucher", "CNY 50 off over CNY 300") + " V8K2M4Q7",
        "gift": pgettext("sample gift", "Canvas tote bag"),
        "expiring_points": 320,
        "expiry_date": (timezone.localdate() + timedelta(days=30)).isoformat(),
    }


EXAMPLE_VARIABLES = ("voucher", "gift", "expiring_points", "expiry_date")


def _preview(data: QueryDict | dict[str, Any], code: str) -> dict[str, Any]:
    """The text filled in for the chosen member (or sample values), what an SMS costs in billing
    parts, and what must be fixed before the template can be saved."""
    channel = data.get("channel") or Channel.SMS
    kind = data.get("kind") or "service"
    body = data.get("body") or ""
    subject = (data.get("subject") or "") if channel in SUBJECT_CHANNELS else ""
    language = data.get("language")
    if language not in dict(settings.LANGUAGES):
        language = translation.get_language()
    s = MessageSettings.current()
    problems = templating.template_problems(
        channel=channel, kind=kind, body=body, subject=subject, opt_out_text=s.sms_opt_out_text
    )
    code = typed(code).strip().upper()[:12]
    member = (
        Member.objects.select_related("store", "tier")
        .filter(code=code, erased_at__isnull=True)
        .first()
        if code
        else None
    )
    with translation.override(language):
        context = member_context(member, _example_extra()) if member else None
        if context is None:
            context = member_context(Member(), _example_extra()) | _sample_context()
        text = templating.render(body, context)
        subject_text = templating.render(subject, context)
    chars, parts = templating.sms_parts(text) if channel == Channel.SMS else (0, 0)
    return {
        "member": member,
        "code": code,
        "missing": bool(code and member is None),
        "channel": channel,
        "text": text,
        "subject": subject_text,
        "chars": chars,
        "parts": parts,
        "too_long": parts > templating.MAX_SMS_PARTS,
        "problems": [(field, msg) for field, msgs in problems.items() for msg in msgs],
        "used": [v for v in templating.variables_of(body + subject) if v in EXAMPLE_VARIABLES],
    }


def _variables() -> list[tuple[str, Any, bool]]:
    return [(name, text, name in EXAMPLE_VARIABLES) for name, text in templating.VARIABLES.items()]


@staff_required(*PERMS)
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    template = get_object_or_404(MessageTemplate, pk=pk) if pk else None
    if request.method == "POST" and request.POST.get("action") == "delete" and template:
        try:
            template_delete(template=template, actor=request.user, request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("messages:template_edit", pk=template.pk)
        messages.success(request, _("Template “%(name)s” deleted.") % {"name": template.name})
        return redirect("messages:templates")
    form = MessageTemplateForm(request.POST or None, template=template)
    if request.method == "POST" and form.is_valid():
        try:
            saved = template_save(
                template=template, data=form.cleaned_data, actor=request.user, request=request
            )
        except ApplicationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("Template “%(name)s” saved.") % {"name": saved.name})
            return redirect("messages:template_edit", pk=saved.pk)
    if form.is_bound:
        values: Any = request.POST
    elif template:
        values = form.initial
    else:
        values = {}
    preview_code = request.POST.get("preview_member") or request.GET.get("member", "")
    return render(
        request,
        "campaigns/messages/template_edit.html",
        {
            "form": form,
            "template": template,
            "used": template_used(template) if template else False,
            "preview": _preview(values, preview_code),
            "variables": _variables(),
            "active": "messages",
        },
    )


@staff_required(*PERMS)
@require_POST
def template_preview(request: HttpRequest) -> HttpResponse:
    """The editor's live preview (htmx): the form's current values on the typed member."""
    return render(
        request,
        "campaigns/messages/template_edit.html#preview",
        {"preview": _preview(request.POST, request.POST.get("preview_member", ""))},
    )


# --- Guard rails and channels ------------------------------------------------------------------


@staff_required(*PERMS)
def message_settings(request: HttpRequest) -> HttpResponse:
    current = MessageSettings.current()
    action = request.POST.get("action", "save")
    if request.method == "POST" and action == "resume":
        channel = request.POST.get("channel", "")
        try:
            resumed = channel_resume(channel=channel, actor=request.user, request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            label = Channel(channel).label
            if resumed:
                messages.success(
                    request,
                    _("%(channel)s resumed: its waiting messages are sent again.")
                    % {"channel": label},
                )
            else:
                messages.info(request, _("%(channel)s was not paused.") % {"channel": label})
        return redirect("messages:settings")
    initial = {name: getattr(current, name) for name in SETTINGS_FIELDS}
    form = MessageSettingsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            message_settings_save(data=form.cleaned_data, actor=request.user, request=request)
        except ApplicationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("Guard rails saved."))
            return redirect("messages:settings")
    return render(
        request,
        "campaigns/messages/settings.html",
        {"form": form, "channels": channel_states(), "active": "settings"},
    )


# --- A staff member's to-dos -------------------------------------------------------------------


@staff_required("use_counter")
def staff_tasks(request: HttpRequest) -> HttpResponse:
    """The WeCom messages handed to the signed-in staff member (no WeCom app to send them):
    the text to copy, the member, and "done" once sent by hand."""
    if request.method == "POST":
        task_id = int_or_none(request.POST.get("task"))
        if task_id is None:
            messages.error(request, _("Choose a task to mark done."))
            return render(request, "campaigns/messages/tasks.html", _tasks(request), status=400)
        try:
            task = staff_task_done(task_id=task_id, actor=request.user, request=request)
        except ApplicationError as exc:
            raise Http404(exc.message) from None
        messages.success(
            request, _("Marked done: the message to %(code)s.") % {"code": task.member.code}
        )
        return redirect("messages:tasks")
    return render(request, "campaigns/messages/tasks.html", _tasks(request))


def _tasks(request: HttpRequest) -> dict[str, Any]:
    return {
        "open": list(staff_tasks_open(request.user)),
        "done": staff_tasks_done(request.user),
        "active": "tasks",
    }


urlpatterns = [
    path("", message_log_page, name="log"),
    path("<int:pk>/", message_detail_page, name="detail"),
    path("members/<str:code>/", member_messages_page, name="member"),
    path("templates/", template_list, name="templates"),
    path("templates/new/", template_edit, name="template_new"),
    path("templates/preview/", template_preview, name="template_preview"),
    path("templates/<int:pk>/", template_edit, name="template_edit"),
    path("settings/", message_settings, name="settings"),
    path("tasks/", staff_tasks, name="tasks"),
]


# --- What the app plugs into the shells (registered from campaigns.apps) ----------------------


def menu_entries() -> list[shells.MenuEntry]:
    console = ("accounts.use_console", "accounts.manage_members")
    return [
        shells.MenuEntry("messages", gettext_lazy("Messages"), "messages:log", "chat", 35, console),
        shells.MenuEntry(
            "tasks",
            gettext_lazy("My to-dos"),
            "messages:tasks",
            "check",
            65,
            ("accounts.use_counter",),
        ),
    ]


def settings_cards() -> list[shells.SettingsCard]:
    return [
        shells.SettingsCard(
            gettext_lazy("Message guard rails"),
            gettext_lazy(
                "Quiet hours, the frequency cap, the 3:1 rule, retries, and the channels' state."
            ),
            "messages:settings",
            "shield",
            30,
            ("accounts.manage_members",),
        )
    ]


def member_links(user: Any, member: Member) -> list[dict[str, Any]]:
    """The Member 360's link to the member's messages, for those who may open it."""
    if not all(user.has_perm(f"accounts.{p}") for p in PERMS):
        return []
    return [{"label": _("Messages"), "url": reverse("messages:member", args=[member.code])}]
