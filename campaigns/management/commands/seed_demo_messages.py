"""``manage.py seed_demo_messages`` (run by ``make run`` after ``seed_demo``): marketing templates
beside the shipped system ones, the system messages of the demo's recent events, a round of care
tips and a promotion through the relay — so the inbox, the message log, the guard rails' reasons
and the staff to-dos show real data."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from campaigns import templating
from campaigns.models import Message, MessageTemplate
from campaigns.services import outbox, webhooks
from members import events
from members.models import Event, Member

DEMO_SOURCE = "demo-care-tips"
TEMPLATES = [
    (
        "care_tips",
        "portal",
        "value",
        "zh-hans",
        "冬季护肤小贴士",
        "",
        "{name}，天气转冷，洁面后三分钟内涂抹保湿霜，锁水效果最好。您的{tier}专属护理建议在会员中心：{portal_link}",
    ),
    (
        "care_tips",
        "portal",
        "value",
        "en",
        "Winter care tips",
        "",
        "{name}, the air is dry: moisturise within three minutes of cleansing. Tips for {tier} members: {portal_link}",
    ),
    (
        "care_tips",
        "sms",
        "value",
        "zh-hans",
        "冬季护肤小贴士（短信）",
        "",
        "【SCRM】{name}，洁面后三分钟内保湿效果最好，更多护理建议见会员中心。拒收请回复R",
    ),
    (
        "care_tips",
        "email",
        "value",
        "zh-hans",
        "冬季护肤小贴士（邮件）",
        "{name}，冬季护肤三个小窍门",
        "{name}，您好：\n\n天气转冷，洁面后三分钟内涂抹保湿霜；每周一次补水面膜；室内记得加湿。\n\n会员中心：{portal_link}",
    ),
    (
        "care_tips",
        "wecom",
        "value",
        "zh-hans",
        "冬季护肤小贴士（企业微信）",
        "",
        "{name}您好，我是您的专属顾问。天气转冷，洁面后三分钟内保湿效果最好，有任何皮肤问题随时问我～",
    ),
    (
        "winter_offer",
        "sms",
        "promotion",
        "zh-hans",
        "冬季焕新（短信）",
        "",
        "【SCRM】{name}，冬季焕新：会员积分 {points}，到店消费满300减50。拒收请回复R",
    ),
    (
        "winter_offer",
        "portal",
        "promotion",
        "zh-hans",
        "冬季焕新",
        "",
        "{name}，冬季焕新活动开始了：到店消费满 300 减 50，{tier}会员再享双倍积分。",
    ),
]


class Command(BaseCommand):
    help = "Demo messages: templates, system messages of recent events, a round of tips."

    def handle(self, *args, **options):
        if Message.objects.filter(source_id__startswith=DEMO_SOURCE).exists():
            self.stdout.write("Demo messages already loaded.")
            return
        with transaction.atomic():
            for code, channel, kind, language, name, subject, body in TEMPLATES:
                MessageTemplate.objects.get_or_create(
                    code=code,
                    channel=channel,
                    language=language,
                    defaults={"name": name, "kind": kind, "subject": subject, "body": body},
                )
            recent = list(
                Event.objects.filter(type__in=outbox.SYSTEM_MESSAGE_EVENTS).order_by("-id")[:400]
            )
            outbox.messages_on_events(sorted(recent, key=lambda e: e.pk))
            templates = {
                (t.code, t.channel): t
                for t in MessageTemplate.objects.filter(
                    language="zh-hans", code__in=["care_tips", "winter_offer"]
                )
            }
            members = list(
                Member.objects.select_related("store", "tier")
                .filter(erased_at__isnull=True)
                .order_by("id")[:120]
            )
            rows = []
            now = timezone.now()
            for i, member in enumerate(members):
                channels = ["portal", ("sms", "email", "wecom")[i % 3]]
                for channel in channels:
                    for code in ("care_tips", "winter_offer") if i % 4 == 0 else ("care_tips",):
                        template = templates.get((code, channel))
                        if template is None:
                            continue
                        context = outbox.member_context(member)
                        rows.append(
                            Message(
                                source_type=Message.SourceType.SYSTEM,
                                source_id=f"{DEMO_SOURCE}-{code}",
                                member=member,
                                channel=channel,
                                kind=template.kind,
                                template=template,
                                subject=templating.render(template.subject, context),
                                text=templating.render(template.body, context),
                                expires_at=outbox.message_expiry(template.kind, now),
                            )
                        )
            outbox.messages_queue(rows)
            # The headline member (the portal demo login) gets a personal note from the store.
            from members.demo.data import HEADLINE_PHONE

            headline = Member.objects.filter(phone="+86" + HEADLINE_PHONE).first()
            if headline is not None:
                outbox.message_queue(
                    member=headline,
                    channel="portal",
                    kind="service",
                    text=f"{headline.name or '您好'}，您上次咨询的敏感肌修护套装已到店，"
                    "我们为您预留到本周日，到店报会员码即可。",
                    source_type=Message.SourceType.SYSTEM,
                    source_id=f"{DEMO_SOURCE}-reserved",
                )
            # An ERP that listens to orders and tier changes; the demo has no such server, so
            # the delivery log shows the retries and the failing state a real outage would.
            endpoint = webhooks.webhook_endpoint_create(
                url="https://erp.example.com/hooks/scrm",
                types=["order.ingested", "tier.changed"],
                description="ERP（演示）",
                via="cli",
            )
            recent_orders = Event.objects.filter(
                type__in=[events.ORDER_INGESTED, events.TIER_CHANGED]
            ).order_by("-id")[:20]
            webhooks.webhooks_on_events(sorted(recent_orders, key=lambda e: e.pk))
            self.stdout.write(f"Demo webhook endpoint: {endpoint.url}")
        handled = 0
        while True:
            n = outbox.outbox_relay_batch(limit=500)
            handled += n
            if not n:
                break
        self.stdout.write(self.style.SUCCESS(f"Demo messages ready: {handled} relayed."))
