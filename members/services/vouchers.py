"""The member's wallet: issue vouchers from templates, validate, redeem exactly once, expire."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import Store, User
from members import events
from members.models import CODE_ALPHABET, Member, Order, Voucher, VoucherTemplate
from scrm.exceptions import ApplicationError


def voucher_code_generate() -> str:
    return "V" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def voucher_issue(
    *,
    template: VoucherTemplate,
    member: Member,
    source: str = "",
    issue_key: str | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Issue one voucher. With ``issue_key`` it is issued at most once (a replay returns it)."""
    now = now or timezone.now()
    if issue_key:
        existing = Voucher.objects.filter(issue_key=issue_key).first()
        if existing is not None:
            return existing
    if not template.is_active:
        raise ApplicationError(
            _("This voucher is no longer issued."), code="voucher_inactive", status_code=409
        )
    if template.valid_until and template.valid_until <= now:
        raise ApplicationError(
            _("This voucher offer has ended."), code="voucher_expired", status_code=409
        )
    if template.per_member_limit is not None:
        held = (
            Voucher.objects.filter(template=template, member=member)
            .exclude(status=Voucher.Status.VOID)
            .count()
        )
        if held >= template.per_member_limit:
            raise ApplicationError(
                _("This member already has the most vouchers of this kind allowed."),
                code="voucher_limit_reached",
                status_code=409,
            )
    expires = template.valid_until
    if template.valid_days:
        by_days = now + timedelta(days=template.valid_days)
        expires = min(expires, by_days) if expires else by_days
    for _attempt in range(5):
        try:
            with transaction.atomic():
                voucher = Voucher.objects.create(
                    code=voucher_code_generate(),
                    template=template,
                    member=member,
                    issued_at=now,
                    valid_from=template.valid_from,
                    expires_at=expires,
                    issue_key=issue_key,
                    source=source,
                )
        except IntegrityError:
            if issue_key and (existing := Voucher.objects.filter(issue_key=issue_key).first()):
                return existing
            continue
        events.send_on_commit(events.voucher_issued, member_id=member.pk, voucher_code=voucher.code)
        return voucher
    raise ApplicationError(
        _("Could not allocate a voucher code. Try again."), code="conflict", status_code=409
    )


@transaction.atomic
def voucher_issue_many(
    *, template: VoucherTemplate, members: list[Member], source: str = "", key: str = ""
) -> list[Voucher]:
    return [
        voucher_issue(
            template=template, member=m, source=source, issue_key=f"{key}:{m.pk}" if key else None
        )
        for m in members
    ]


def _check_usable(voucher: Voucher, now: datetime) -> None:
    if voucher.status == Voucher.Status.REDEEMED:
        when = (
            timezone.localtime(voucher.redeemed_at).strftime("%H:%M") if voucher.redeemed_at else ""
        )
        raise ApplicationError(
            _("This voucher was redeemed at %(time)s and can't be used again.") % {"time": when},
            code="voucher_already_redeemed",
            status_code=409,
        )
    if voucher.status == Voucher.Status.EXPIRED or (
        voucher.expires_at and voucher.expires_at <= now
    ):
        raise ApplicationError(
            _("This voucher has expired."), code="voucher_expired", status_code=409
        )
    if voucher.status == Voucher.Status.VOID:
        raise ApplicationError(_("This voucher is void."), code="voucher_void", status_code=409)
    if voucher.valid_from and voucher.valid_from > now:
        raise ApplicationError(
            _("This voucher can be used from %(date)s.")
            % {"date": date_format(timezone.localtime(voucher.valid_from), "Y-m-d")},
            code="voucher_not_yet_valid",
            status_code=409,
        )


def voucher_redeem(
    *,
    code: str,
    store: Store | None = None,
    order: Order | None = None,
    member: Member | None = None,
    spend: Decimal | None = None,
    actor: User | None = None,
    now: datetime | None = None,
    request=None,
    audit: bool = False,
) -> Voucher:
    """Redeem exactly once: the voucher row is locked, so of concurrent attempts one wins and the
    rest see it redeemed. Inside an order, the voucher must belong to its member and meet the
    minimum spend."""
    now = now or timezone.now()
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update()
            .select_related("template")
            .filter(code=code.strip().upper())
            .first()
        )
        if voucher is None:
            raise ApplicationError(
                _("No voucher has this code."), code="not_found", status_code=404
            )
        _check_usable(voucher, now)
        if member is not None and voucher.member_id != member.pk:
            raise ApplicationError(
                _("Voucher %(code)s belongs to another member.") % {"code": voucher.code},
                code="voucher_not_owned",
                status_code=409,
            )
        if spend is not None and spend < voucher.template.min_spend:
            raise ApplicationError(
                _("Voucher %(code)s needs a spend of at least CNY %(min)s.")
                % {"code": voucher.code, "min": voucher.template.min_spend},
                code="voucher_min_spend",
                status_code=409,
            )
        voucher.status = Voucher.Status.REDEEMED
        voucher.redeemed_at = now
        voucher.redeemed_store = store
        voucher.redeemed_order = order
        voucher.save(update_fields=["status", "redeemed_at", "redeemed_store", "redeemed_order"])
        if audit:  # a redemption on its own (at the counter), not inside an order
            from accounts.services import audit_record

            audit_record(
                actor=actor,
                action="voucher.redeemed",
                request=request,
                target=member or voucher.member,
                after={"voucher": voucher.code, "store": store.code if store else None},
            )
        events.send_on_commit(
            events.voucher_redeemed, member_id=voucher.member_id, voucher_code=voucher.code
        )
        return voucher


def vouchers_expire_due(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return Voucher.objects.filter(status=Voucher.Status.AVAILABLE, expires_at__lte=now).update(
        status=Voucher.Status.EXPIRED
    )


def voucher_value(voucher: Voucher, spend: Decimal) -> Decimal:
    """The CNY a voucher takes off an order of ``spend`` (gift and buy-N vouchers: 0 off the bill)."""
    t = voucher.template
    if t.kind == VoucherTemplate.Kind.AMOUNT_OFF and t.amount:
        return min(t.amount, spend)
    if t.kind == VoucherTemplate.Kind.PERCENT_OFF and t.percent:
        return (spend * t.percent / 100).quantize(Decimal("0.01"))
    return Decimal("0")
