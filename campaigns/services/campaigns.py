"""Campaigns: saving a draft, the workflow (draft → scheduled → running → finished / cancelled,
each step audited), the launch (the holdout drawn from a stored seed, the groups written in one
INSERT … SELECT, the treatment's messages written into the outbox set-based in chunks), the
periodic advance of running campaigns, and their results frozen when they finish.

The outbox is written by ``campaign_outbox_chunk``: one chunk of treated members a transaction,
the campaign row claimed ``FOR UPDATE SKIP LOCKED`` and its cursor advanced in the same
transaction, so any number of workers share a launch, a killed one loses nothing (the next picks
up at the cursor) and a chunk written twice writes nothing twice (``message_once``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditEntry, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.services import audit_changes, audit_picture, audit_record
from campaigns import templating
from campaigns.models import (
    BrandDay,
    Campaign,
    CampaignListMember,
    CampaignMember,
    CampaignMessage,
    Message,
    MessageSettings,
    MessageTemplate,
)
from campaigns.models.messages import Channel
from campaigns.selectors import campaigns as campaign_selectors
from members.models import Member
from members.selectors.members import MEMBER_CODE
from scrm.exceptions import ApplicationError

logger = logging.getLogger("scrm.campaigns")

CHUNK = 20_000  # treated members a transaction when writing the outbox
MAX_LIST = 100_000  # members of an uploaded list (API.md)
WRITE_AHEAD = timedelta(days=1)  # a later round's messages are written a day before it sends
AUDITED = (
    "name",
    "kind",
    "status",
    "segment",
    "offer",
    "budget",
    "starts_at",
    "repeat",
    "repeat_until",
    "conversion_window_days",
    "holdout_percent",
    "owner",
    "occasion",
)


def _fail(fields: dict[str, list[str]]) -> ApplicationError:
    first = next(iter(fields.values()))[0]
    return ApplicationError(first, fields=fields)


def _not_draft() -> ApplicationError:
    return ApplicationError(
        _("This campaign was launched already."), code="campaign_not_draft", status_code=409
    )


# --- Saving a draft ---------------------------------------------------------------------------


def list_members(tokens: list[str]) -> tuple[list[int], list[str]]:
    """The members an uploaded list names by phone or member code: (ids, entries nobody has)."""
    codes: dict[str, str] = {}
    phones: dict[str, str] = {}
    for token in tokens:
        try:
            phones[normalize_phone(token)] = token
        except InvalidPhone:
            if MEMBER_CODE.fullmatch(token):
                codes[token.upper()] = token
    found: list[tuple[int, str, str]] = []
    code_list, phone_list = list(codes), list(phones)
    for i in range(0, max(len(code_list), len(phone_list)), 10_000):
        found += list(
            Member.objects.filter(erased_at__isnull=True)
            .filter(code__any=code_list[i : i + 10_000])
            .values_list("pk", "code", "phone")
        )
        found += list(
            Member.objects.filter(erased_at__isnull=True)
            .filter(phone__any=phone_list[i : i + 10_000])
            .values_list("pk", "code", "phone")
        )
    matched = {codes[c] for _pk, c, _p in found if c in codes}
    matched |= {phones[p] for _pk, _c, p in found if p in phones}
    return sorted({pk for pk, _c, _p in found}), [t for t in tokens if t not in matched]


def campaign_problems(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """What must be fixed before a draft is saved, by field (the console's and the API's
    names). Empty when it may be saved."""
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(str(message))

    name = (data.get("name") or "").strip()
    if not name:
        add("name", _("Give the campaign a name."))
    elif len(name) > 120:
        add("name", _("At most 120 characters."))
    if data.get("kind") not in ("promotion", "value"):
        add("kind", _("Choose promotion or value."))
    if data.get("segment") is None and data.get("members") is None and not data.get("keep_list"):
        add("audience", _("Choose a segment or upload a list of members."))
    channels = data.get("channels") or []
    if not channels:
        add("channels", _("Choose at least one channel."))
    elif any(c not in Channel.values for c in channels) or len(set(channels)) != len(channels):
        add("channels", _("Choose channels from the list, each once."))
    s = MessageSettings.current()
    texts = data.get("messages") or {}
    for channel in channels:
        text = texts.get(channel) or {}
        for field, errors in templating.template_problems(
            channel=channel,
            kind=data.get("kind") or "promotion",
            body=text.get("body", ""),
            subject=text.get("subject", ""),
            opt_out_text=s.sms_opt_out_text,
        ).items():
            for error in errors:
                add(f"{channel}_{field}", error)
    offer = data.get("offer")
    if offer is not None and not offer.is_active:
        add("offer", _("This voucher template is switched off."))
    budget = data.get("budget")
    if budget is not None and not Decimal("0") <= budget <= Decimal("9999999999.99"):
        add("budget", _("Enter a budget from 0 to 9,999,999,999.99."))
    starts_at = data.get("starts_at")
    if starts_at is None:
        add("starts_at", _("Choose when the campaign starts."))
    repeat = data.get("repeat") or "once"
    if repeat not in Campaign.Repeat.values:
        add("repeat", _("Choose once, weekly or monthly."))
    until = data.get("repeat_until")
    if repeat != "once":
        if until is None:
            add("repeat_until", _("Say until when the campaign repeats."))
        elif starts_at is not None and until < timezone.localtime(starts_at).date():
            add("repeat_until", _("The last round cannot be before the start."))
        elif starts_at is not None and until > timezone.localtime(starts_at).date() + timedelta(
            days=366
        ):
            add("repeat_until", _("A campaign repeats for a year at most."))
    window = data.get("conversion_window_days")
    if window is None or not 1 <= window <= 90:
        add("conversion_window_days", _("Enter a window from 1 to 90 days."))
    holdout = data.get("holdout_percent")
    if holdout is None or not 0 <= holdout <= 50:
        add("holdout_percent", _("Enter a holdout from 0 to 50 percent."))
    return problems


def _messages_save(campaign: Campaign, data: Mapping[str, Any]) -> None:
    texts = data.get("messages") or {}
    CampaignMessage.objects.filter(campaign=campaign).exclude(
        channel__in=campaign.channels
    ).delete()
    for channel in campaign.channels:
        text = texts.get(channel) or {}
        template = text.get("template")
        CampaignMessage.objects.update_or_create(
            campaign=campaign,
            channel=channel,
            defaults={
                "body": text.get("body", ""),
                "subject": text.get("subject", "") if channel == "email" else "",
                "template": template if isinstance(template, MessageTemplate) else None,
            },
        )


def _list_save(campaign: Campaign, member_ids: list[int]) -> None:
    CampaignListMember.objects.filter(campaign=campaign).delete()
    CampaignListMember.objects.bulk_create(
        [CampaignListMember(campaign=campaign, member_id=m) for m in member_ids], batch_size=5000
    )


def _unlaunch(campaign: Campaign) -> None:
    """A scheduled campaign edited goes back to draft: its draw and its (not yet due) messages
    are taken back; the next launch draws again from the same seed."""
    Message.objects.filter(
        source_type=Message.SourceType.CAMPAIGN,
        source_id__in=campaign.source_ids(),
        status__in=(Message.Status.QUEUED, Message.Status.DEFERRED),
    ).delete()
    CampaignMember.objects.filter(campaign=campaign).delete()
    campaign.audience_count = campaign.treatment_count = campaign.holdout_count = None
    campaign.round, campaign.round_cursor, campaign.round_written = 0, 0, False
    campaign.launched_at = None


def campaign_save(
    *,
    data: Mapping[str, Any],
    actor: User | None,
    campaign: Campaign | None = None,
    request: HttpRequest | None = None,
    via: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Create a draft, or change a draft or a scheduled campaign (which goes back to draft).
    ``data`` holds checked values: a segment or ``members`` (tokens of an uploaded list), the
    channels with ``messages`` {channel: {body, subject, template}}, an offer template or None."""
    now = now or timezone.now()
    problems = campaign_problems(data)
    member_ids: list[int] | None = None
    if data.get("members") is not None and "audience" not in problems:
        tokens = list(data["members"])
        if len(tokens) > MAX_LIST:
            problems.setdefault("members", []).append(
                _("Upload at most 100,000 members; use a segment for more.")
            )
        else:
            member_ids, unknown = list_members(tokens)
            if unknown:
                shown = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
                problems.setdefault("members", []).append(
                    _("No member has these codes or numbers: %(list)s") % {"list": shown}
                )
            elif not member_ids:
                problems.setdefault("members", []).append(_("The list names no member."))
    if problems:
        raise _fail(problems)
    with transaction.atomic():
        before = None
        if campaign is not None:
            campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
            if not campaign.is_editable:
                raise ApplicationError(
                    _("A campaign that has started can no longer be changed."),
                    code="campaign_not_draft",
                    status_code=409,
                )
            before = audit_picture(campaign, AUDITED)
            back_to_draft = campaign.status == Campaign.Status.SCHEDULED
        else:
            campaign = Campaign(created_by=actor if actor and actor.pk else None, created_at=now)
            back_to_draft = False
        if back_to_draft:
            _unlaunch(campaign)
            campaign.status = Campaign.Status.DRAFT
        campaign.name = data["name"].strip()
        campaign.kind = data["kind"]
        keep = bool(data.get("keep_list")) and campaign.uses_list
        campaign.segment = data.get("segment") if member_ids is None and not keep else None
        campaign.uses_list = member_ids is not None or keep
        campaign.channels = list(data["channels"])
        campaign.offer = data.get("offer")
        campaign.budget = data.get("budget")
        campaign.starts_at = data["starts_at"]
        campaign.repeat = data.get("repeat") or Campaign.Repeat.ONCE
        campaign.repeat_until = data.get("repeat_until") if campaign.repeat != "once" else None
        campaign.conversion_window_days = data["conversion_window_days"]
        campaign.holdout_percent = data["holdout_percent"]
        campaign.occasion = (data.get("occasion") or "")[:60]
        campaign.occasion_date = data.get("occasion_date")
        campaign.owner = (
            data.get("owner") or campaign.owner or (actor if actor and actor.pk else None)
        )
        campaign.dry_run = None
        campaign.updated_at = now
        campaign.save()
        _messages_save(campaign, data)
        if member_ids is not None:
            _list_save(campaign, member_ids)
        elif not keep:
            CampaignListMember.objects.filter(campaign=campaign).delete()
        after = audit_picture(campaign, AUDITED)
        old, new = audit_changes(before, after)
        if member_ids is not None:
            new["list_members"] = len(member_ids)
        audit_record(
            actor=actor,
            action="campaign.created" if before is None else "campaign.changed",
            target=campaign,
            before=old,
            after={**new, **({"back_to_draft": True} if back_to_draft else {})},
            request=request,
            via=via,
        )
    return campaign


# --- Launch -----------------------------------------------------------------------------------


def launch_problems(campaign: Campaign) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not campaign.channels:
        problems["channels"] = [_("Choose at least one channel.")]
    have = set(CampaignMessage.objects.filter(campaign=campaign).values_list("channel", flat=True))
    for channel in campaign.channels:
        if channel not in have:
            problems.setdefault(f"{channel}_body", []).append(_("Write the text of the message."))
    if campaign.offer is not None and not campaign.offer.is_active:
        problems["offer"] = [_("This voucher template is switched off.")]
    if campaign.segment_id is None and not campaign.uses_list:
        problems["audience"] = [_("Choose a segment or upload a list of members.")]
    return problems


def campaign_launch(
    *,
    campaign: Campaign,
    actor: User | None,
    request: HttpRequest | None = None,
    via: str | None = None,
    now: datetime | None = None,
    write_budget_seconds: float = 20.0,
) -> Campaign:
    """Draw the holdout from the reachable audience (md5 of the stored seed and the member id,
    the first ``holdout_percent`` held out), record every member's group in one INSERT … SELECT,
    move the campaign to scheduled (or running when its start has passed), then write the
    treatment's messages into the outbox chunk by chunk — within ``write_budget_seconds`` here,
    the rest by the periodic ``campaigns_advance``. A second launch is ``campaign_not_draft``."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status != Campaign.Status.DRAFT:
            raise _not_draft()
        problems = launch_problems(campaign)
        if problems:
            raise _fail(problems)
        ranked, params = campaign_selectors.ranked_sql(campaign)
        pct = int(campaign.holdout_percent)
        with connection.cursor() as cursor:
            cursor.execute(
                'INSERT INTO campaigns_campaignmember (campaign_id, member_id, "group")'  # noqa: S608 (names from a fixed set, numbers checked)
                f" SELECT %s, r.member_id, CASE WHEN r.rn * 100 <= r.n * {pct} + 50"
                f" THEN 'holdout' ELSE 'treatment' END FROM ({ranked}) r WHERE 1 = 1"
                " ON CONFLICT DO NOTHING",
                [campaign.pk, *params],
            )
        counts = dict(
            CampaignMember.objects.filter(campaign=campaign)
            .values("group")
            .annotate(n=Count("id"))
            .values_list("group", "n")
        )
        treated, held = counts.get("treatment", 0), counts.get("holdout", 0)
        if not treated and not held:
            raise ApplicationError(
                _("Nobody in this audience may be reached on the campaign's channels."),
                code="empty_audience",
                fields={"audience": [_("Nobody in this audience may be reached.")]},
            )
        campaign.audience_count = treated + held
        campaign.treatment_count, campaign.holdout_count = treated, held
        campaign.status = (
            Campaign.Status.SCHEDULED if campaign.starts_at > now else Campaign.Status.RUNNING
        )
        campaign.launched_at = now
        campaign.round, campaign.round_cursor, campaign.round_written = 0, 0, treated == 0
        campaign.updated_at = now
        campaign.save()
        audit_record(
            actor=actor,
            action="campaign.launched",
            target=campaign,
            request=request,
            via=via,
            after={
                "status": campaign.status,
                "audience": campaign.audience_count,
                "treatment": treated,
                "holdout": held,
                "seed": str(campaign.seed),
            },
        )
    campaign_outbox_write(campaign.pk, budget_seconds=write_budget_seconds, now=now)
    campaign.refresh_from_db()
    return campaign


def _render_sql(body_param: str) -> str:
    """The message text for one member in SQL: the template's variables replaced from the
    member's row (what ``templating.render`` does with ``outbox.member_context``); ``{voucher}``
    is filled by the relay when it issues the voucher at send time."""
    tier = "t.name_zh" if settings.LANGUAGE_CODE.startswith("zh") else "t.name_en"
    text = body_param
    for name, value in (
        ("name", "COALESCE(NULLIF(m.name, ''), %s)"),
        ("member_code", "m.code"),
        ("tier", f"COALESCE({tier}, '')"),
        ("points", "CAST(m.points_balance AS TEXT)"),
        ("store", "COALESCE(s.name, '')"),
        ("portal_link", "%s"),
        ("gift", "''"),
        ("expiring_points", "''"),
        ("expiry_date", "''"),
    ):
        text = f"REPLACE({text}, '{{{name}}}', {value})"
    return text


def _chunk_write(campaign: Campaign, upper: int | None, now: datetime) -> int:
    """Write the messages of the treated members after the cursor up to ``upper`` (all when
    None), one INSERT … SELECT per channel. Returns the rows written."""
    from campaigns.services.outbox import message_expiry

    round_ = campaign.round
    at = campaign.round_starts()[round_]
    scheduled = max(at, campaign.launched_at or now) if round_ == 0 else at
    s = MessageSettings.current()
    expires = message_expiry(campaign.kind, scheduled, s)
    adapt = connection.ops.adapt_datetimefield_value
    member_name = _("member")
    portal_link = f"{settings.SCRM_PUBLIC_URL}/portal/"
    written = 0
    texts = {m.channel: m for m in CampaignMessage.objects.filter(campaign=campaign)}
    for channel in campaign.channels:
        message = texts[channel]
        if channel not in Channel.values:
            continue
        bound = "" if upper is None else " AND cm.member_id <= %s"
        sql = (
            "INSERT INTO campaigns_message (source_type, source_id, member_id, channel, kind,"  # noqa: S608 (names from a fixed set, numbers checked)
            " template_id, language, subject, text, status, reason, attempts, scheduled_for,"
            " expires_at, claimed_until, sent_at, delivered_at, read_at, provider_id, last_error,"
            " created_at, updated_at)"
            f" SELECT 'campaign', %s, m.id, %s, %s, %s, %s, %s, {_render_sql('%s')},"
            " 'queued', '', 0, %s, %s, NULL, NULL, NULL, NULL, '', '', %s, %s"
            " FROM campaigns_campaignmember cm JOIN members_member m ON m.id = cm.member_id"
            " LEFT JOIN members_tier t ON t.id = m.tier_id"
            " LEFT JOIN accounts_store s ON s.id = m.store_id"
            f" WHERE cm.campaign_id = %s AND cm.\"group\" = 'treatment' AND cm.member_id > %s{bound}"
            f" AND m.consent_{channel} AND m.erased_at IS NULL"
            " ORDER BY cm.member_id ON CONFLICT DO NOTHING"
        )
        params: list[Any] = [
            campaign.source_id(round_),
            channel,
            campaign.kind,
            message.template_id,
            settings.LANGUAGE_CODE,
            message.subject,
            message.body,
            member_name,
            portal_link,
            adapt(scheduled),
            adapt(expires) if expires else None,
            adapt(now),
            adapt(now),
            campaign.pk,
            campaign.round_cursor,
        ]
        if upper is not None:
            params.append(upper)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            written += max(cursor.rowcount, 0)
    return written


def campaign_outbox_chunk(campaign_id: int, *, now: datetime | None = None) -> bool:
    """Write one chunk of the current round's messages, claiming the campaign row so that no
    other worker writes it at the same time. True when more remains to write."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = (
            Campaign.objects.select_for_update(skip_locked=True)
            .filter(
                pk=campaign_id,
                status__in=(Campaign.Status.SCHEDULED, Campaign.Status.RUNNING),
                round_written=False,
            )
            .first()
        )
        if campaign is None:
            return False
        ids = list(
            CampaignMember.objects.filter(
                campaign_id=campaign.pk, group="treatment", member_id__gt=campaign.round_cursor
            )
            .order_by("member_id")
            .values_list("member_id", flat=True)[CHUNK - 1 : CHUNK + 1]
        )
        upper = ids[0] if len(ids) == 2 else None  # None: the rest fits this chunk
        _chunk_write(campaign, upper, now)
        if upper is None:
            campaign.round_written = True
        else:
            campaign.round_cursor = upper
        campaign.updated_at = now
        campaign.save(update_fields=["round_cursor", "round_written", "updated_at"])
        return upper is not None


def campaign_outbox_write(
    campaign_id: int, *, budget_seconds: float = 50.0, now: datetime | None = None
) -> bool:
    """Write chunks until the round is written or the time is spent. True when done."""
    started = time.monotonic()
    while campaign_outbox_chunk(campaign_id, now=now):
        if time.monotonic() - started > budget_seconds:
            return False
    return True


# --- Cancel, advance, finish ------------------------------------------------------------------


def campaign_cancel(
    *,
    campaign: Campaign,
    actor: User | None,
    request: HttpRequest | None = None,
    via: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Stop the sends not yet made (they are skipped as ``cancelled``); what was sent stays, and
    the results keep counting to the end of the window. A draft is simply cancelled."""
    now = now or timezone.now()
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if campaign.status in (Campaign.Status.FINISHED, Campaign.Status.CANCELLED):
            raise ApplicationError(
                _("This campaign has ended already."), code="campaign_ended", status_code=409
            )
        stopped = Message.objects.filter(
            source_type=Message.SourceType.CAMPAIGN,
            source_id__in=campaign.source_ids(),
            status__in=(Message.Status.QUEUED, Message.Status.DEFERRED),
        ).update(status=Message.Status.SKIPPED, reason="cancelled", updated_at=now)
        was = campaign.status
        campaign.status = Campaign.Status.CANCELLED
        campaign.cancelled_at = campaign.updated_at = now
        campaign.round_written = True
        campaign.save()
        audit_record(
            actor=actor,
            action="campaign.cancelled",
            target=campaign,
            request=request,
            via=via,
            before={"status": was},
            after={"status": campaign.status, "sends_stopped": stopped},
        )
    if campaign.launched_at is not None:
        campaign_results_refresh(campaign, now=now)
    return campaign


def campaign_results_refresh(campaign: Campaign, *, now: datetime | None = None) -> dict:
    """Compute and keep the results (shown while running; frozen when finished)."""
    now = now or timezone.now()
    results = campaign_selectors.campaign_results(campaign, now=now)
    Campaign.objects.filter(pk=campaign.pk).update(results=results, results_at=now)
    campaign.results, campaign.results_at = results, now
    return results


def campaign_results_current(
    campaign: Campaign, *, max_age: timedelta | None = None, now: datetime | None = None
) -> dict:
    """The results as kept: frozen for a finished campaign; computed when there are none yet,
    or when older than ``max_age`` while it runs. A draft has none (409)."""
    if campaign.launched_at is None:
        raise ApplicationError(
            _("The campaign has not been launched yet."),
            code="campaign_not_launched",
            status_code=409,
        )
    now = now or timezone.now()
    stale = (
        max_age is not None
        and campaign.status != Campaign.Status.FINISHED
        and (campaign.results_at is None or now - campaign.results_at >= max_age)
    )
    if campaign.results is None or stale:
        return campaign_results_refresh(campaign, now=now)
    return campaign.results


RESULTS_EVERY = timedelta(minutes=5)


def campaigns_advance(*, now: datetime | None = None, budget_seconds: float = 50.0) -> dict:
    """The periodic step of every launched campaign (any number of workers may run it):
    finish writing a launch's outbox; move scheduled campaigns whose start has come to running;
    write a recurring campaign's next round a day before it sends; refresh running campaigns'
    results every few minutes; finish campaigns whose window has closed, freezing the results."""
    now = now or timezone.now()
    started = time.monotonic()
    done: dict[str, int] = {"written": 0, "started": 0, "rounds": 0, "finished": 0, "results": 0}
    for pk in Campaign.objects.filter(
        status__in=(Campaign.Status.SCHEDULED, Campaign.Status.RUNNING), round_written=False
    ).values_list("pk", flat=True):
        left = budget_seconds - (time.monotonic() - started)
        if left <= 0:
            return done
        campaign_outbox_write(pk, budget_seconds=left, now=now)
        done["written"] += 1
    for campaign in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, starts_at__lte=now):
        with transaction.atomic():
            locked = (
                Campaign.objects.select_for_update(skip_locked=True)
                .filter(pk=campaign.pk, status=Campaign.Status.SCHEDULED)
                .first()
            )
            if locked is None:
                continue
            locked.status, locked.updated_at = Campaign.Status.RUNNING, now
            locked.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=None,
                action="campaign.started",
                target=locked,
                via=AuditEntry.Via.SYSTEM,
                before={"status": Campaign.Status.SCHEDULED},
                after={"status": Campaign.Status.RUNNING},
            )
            done["started"] += 1
    for campaign in Campaign.objects.filter(status=Campaign.Status.RUNNING):
        starts = campaign.round_starts()
        if (
            campaign.round_written
            and campaign.round + 1 < len(starts)
            and starts[campaign.round + 1] - WRITE_AHEAD <= now
        ):
            with transaction.atomic():
                n = Campaign.objects.filter(
                    pk=campaign.pk, round=campaign.round, round_written=True
                ).update(round=campaign.round + 1, round_cursor=0, round_written=False)
            if n:
                campaign_outbox_write(campaign.pk, budget_seconds=10, now=now)
                done["rounds"] += 1
            continue
        if (
            campaign.round + 1 >= len(starts)
            and campaign.round_written
            and now >= campaign.window_end
        ):
            with transaction.atomic():
                locked = (
                    Campaign.objects.select_for_update(skip_locked=True)
                    .filter(pk=campaign.pk, status=Campaign.Status.RUNNING)
                    .first()
                )
                if locked is None:
                    continue
                results = campaign_selectors.campaign_results(locked, now=now)
                locked.status, locked.finished_at, locked.updated_at = (
                    Campaign.Status.FINISHED,
                    now,
                    now,
                )
                locked.results, locked.results_at = results, now
                locked.save()
                audit_record(
                    actor=None,
                    action="campaign.finished",
                    target=locked,
                    via=AuditEntry.Via.SYSTEM,
                    before={"status": Campaign.Status.RUNNING},
                    after={
                        "status": Campaign.Status.FINISHED,
                        "lift": results["lift"]["absolute"],
                        "ci95": results["lift"]["ci95"],
                    },
                )
                done["finished"] += 1
            continue
        if campaign.results_at is None or now - campaign.results_at >= RESULTS_EVERY:
            campaign_results_refresh(campaign, now=now)
            done["results"] += 1
    return done


def campaign_dry_run_save(*, campaign: Campaign, now: datetime | None = None) -> dict:
    """Run the dry run and keep it on the draft (the page shows the last one and when)."""
    result = campaign_selectors.campaign_dry_run(campaign, now=now)
    Campaign.objects.filter(pk=campaign.pk).update(dry_run=result)
    campaign.dry_run = result
    return result


# --- The brand's own days ---------------------------------------------------------------------


def brand_day_problems(data: Mapping[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    name = (data.get("name") or "").strip()
    if not name:
        problems["name"] = [_("Give the day a name.")]
    elif len(name) > 60:
        problems["name"] = [_("At most 60 characters.")]
    day = data.get("date")
    if not isinstance(day, date):
        problems["date"] = [_("Enter a date.")]
    elif not 2000 <= day.year <= 2100:
        problems["date"] = [_("Enter a date between 2000 and 2100.")]
    if data.get("kind") not in BrandDay.Kind.values:
        problems["kind"] = [_("Choose a kind from the list.")]
    if data.get("repeat") not in BrandDay.Repeat.values:
        problems["repeat"] = [_("Choose how the day repeats.")]
    return problems


def brand_day_save(
    *,
    data: Mapping[str, Any],
    actor: User | None,
    day: BrandDay | None = None,
    request: HttpRequest | None = None,
) -> BrandDay:
    problems = brand_day_problems(data)
    if problems:
        raise _fail(problems)
    fields = ("name", "kind", "date", "repeat", "store", "note")
    with transaction.atomic():
        before = audit_picture(day, fields) if day is not None else None
        day = day or BrandDay(created_by=actor if actor and actor.pk else None)
        day.name = data["name"].strip()
        day.kind, day.date, day.repeat = data["kind"], data["date"], data["repeat"]
        day.store = data.get("store")
        day.note = (data.get("note") or "").strip()[:200]
        day.save()
        old, new = audit_changes(before, audit_picture(day, fields))
        audit_record(
            actor=actor,
            action="brand_day.saved" if before else "brand_day.created",
            target=day,
            before=old,
            after=new,
            request=request,
        )
    return day


def brand_day_delete(
    *, day: BrandDay, actor: User | None, request: HttpRequest | None = None
) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="brand_day.deleted",
            target=day,
            before=audit_picture(day, ("name", "kind", "date", "repeat")),
            request=request,
        )
        day.delete()
