"""The member's wallet: issue vouchers from templates, validate, redeem exactly once, expire.
Whether a voucher may be used is ``loyalty.voucher_problem``; this module locks, stores and
explains it."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Store, User
from members import events, loyalty
from members.models import CODE_ALPHABET, Member, Order, Voucher, VoucherTemplate
from members.selectors.cards import voucher_terms
from scrm.dates import long_date
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
                events.event_record(
                    events.VOUCHER_ISSUED,
                    member_id=member.pk,
                    voucher_code=voucher.code,
                    template=template.code,
                    source=source,
                )
        except IntegrityError:
            if issue_key and (existing := Voucher.objects.filter(issue_key=issue_key).first()):
                return existing
            continue
        return voucher
    raise ApplicationError(
        _("Could not allocate a voucher code. Try again."), code="conflict", status_code=409
    )


def voucher_error(problem: str, voucher: Voucher) -> ApplicationError:
    """The error a ``loyalty.voucher_problem`` code is shown as, on the API and in the pages."""
    if problem == "voucher_already_redeemed":
        when = (
            timezone.localtime(voucher.redeemed_at).strftime("%H:%M") if voucher.redeemed_at else ""
        )
        message = _("This voucher was redeemed at %(time)s and can't be used again.") % {
            "time": when
        }
    elif problem == "voucher_expired":
        message = _("This voucher has expired.")
    elif problem == "voucher_void":
        message = _("This voucher is void.")
    elif problem == "voucher_not_yet_valid":
        message = _("This voucher can be used from %(date)s.") % {
            "date": long_date(voucher.valid_from)
        }
    elif problem == "voucher_not_owned":
        message = _("Voucher %(code)s belongs to another member.") % {"code": voucher.code}
    elif problem == "voucher_min_spend":
        message = _("Voucher %(code)s needs a spend of at least CNY %(min)s.") % {
            "code": voucher.code,
            "min": voucher.template.min_spend,
        }
    else:
        message = _("This voucher can't be used.")
    return ApplicationError(message, code=problem, status_code=409)


def voucher_not_found() -> ApplicationError:
    return ApplicationError(_("No voucher has this code."), code="not_found", status_code=404)


def stacking_error() -> ApplicationError:
    return ApplicationError(
        _("A voucher that cannot be combined was listed with others."),
        code="voucher_not_stackable",
        status_code=409,
        fields={"vouchers": [_("Use one voucher, or only stackable ones.")]},
    )


def vouchers_check_for_order(
    vouchers: Sequence[Voucher | None],
    *,
    codes: Sequence[str],
    member_id: int,
    paid: Decimal,
    before_vouchers: Decimal | None,
    now: datetime,
) -> ApplicationError | None:
    """The first reason an order may not use these vouchers (``None`` when it may), in the order
    the vouchers are listed: not found, then ``loyalty.voucher_problem`` (status, dates, owner,
    minimum spend on what the order cost before vouchers), then stacking. ``vouchers`` is aligned
    with ``codes`` (None where no voucher has the code)."""
    found = [v for v in vouchers if v is not None]
    terms = [voucher_terms(v) for v in found]
    spend = (
        before_vouchers
        if before_vouchers is not None
        else loyalty.spend_before_vouchers(paid, terms)
    )
    for _code, voucher in zip(codes, vouchers, strict=True):
        if voucher is None:
            return voucher_not_found()
        problem = loyalty.voucher_problem(
            voucher_terms(voucher), now=now, member_id=member_id, spend=spend
        )
        if problem is not None:
            return voucher_error(problem, voucher)
    if not loyalty.vouchers_stack(terms):
        return stacking_error()
    return None


def vouchers_taken(
    vouchers: Sequence[Voucher], *, paid: Decimal, before_vouchers: Decimal | None
) -> list[Decimal]:
    """What each of an order's vouchers took off its bill (``loyalty.voucher_takes`` on what the
    order cost before them), recorded at redemption: a template's cost is their sum."""
    terms = [voucher_terms(v) for v in vouchers]
    before = (
        before_vouchers
        if before_vouchers is not None
        else loyalty.spend_before_vouchers(paid, terms)
    )
    return loyalty.voucher_takes(terms, before)


def vouchers_redeem_for_order(
    *,
    codes: Sequence[str],
    member: Member,
    order: Order,
    paid: Decimal,
    before_vouchers: Decimal | None,
    store: Store | None,
    now: datetime | None = None,
) -> list[Voucher]:
    """Redeem an order's vouchers, inside its transaction: each locked (in code order, as every
    locker does), checked, then marked redeemed; raises the first problem."""
    now = now or timezone.now()
    wanted = [c.strip().upper() for c in codes]
    locked = {
        v.code: v
        for v in Voucher.objects.select_for_update()
        .select_related("template")
        .filter(code__in=wanted)
        .order_by("code")
    }
    vouchers = [locked.get(c) for c in wanted]
    error = vouchers_check_for_order(
        vouchers,
        codes=wanted,
        member_id=member.pk,
        paid=paid,
        before_vouchers=before_vouchers,
        now=now,
    )
    if error is not None:
        raise error
    redeemed = [v for v in vouchers if v is not None]
    taken = vouchers_taken(redeemed, paid=paid, before_vouchers=before_vouchers)
    for v, value in zip(redeemed, taken, strict=True):  # a few per order
        Voucher.objects.filter(pk=v.pk).update(
            status=Voucher.Status.REDEEMED,
            redeemed_at=now,
            redeemed_store=store,
            redeemed_order=order,
            redeemed_value=value,
        )
        v.redeemed_value = value
    for v in redeemed:
        v.status, v.redeemed_at, v.redeemed_store, v.redeemed_order = (
            Voucher.Status.REDEEMED,
            now,
            store,
            order,
        )
    return redeemed


def voucher_redeem(
    *,
    code: str,
    store: Store | None = None,
    member: Member | None = None,
    order: Order | None = None,
    actor: User | None = None,
    now: datetime | None = None,
    request=None,
    audit: bool = False,
) -> Voucher:
    """Redeem one voucher on its own (the counter, the API) exactly once: the voucher row is
    locked, so of concurrent attempts one wins and the rest see it redeemed."""
    now = now or timezone.now()
    with transaction.atomic():
        voucher = (
            Voucher.objects.select_for_update()
            .select_related("template")
            .filter(code=code.strip().upper())
            .first()
        )
        if voucher is None:
            raise voucher_not_found()
        problem = loyalty.voucher_problem(
            voucher_terms(voucher), now=now, member_id=member.pk if member else None
        )
        if problem is not None:
            raise voucher_error(problem, voucher)
        voucher.status = Voucher.Status.REDEEMED
        voucher.redeemed_at = now
        voucher.redeemed_store = store
        voucher.redeemed_order = order
        if order is not None:  # what it took off that order's bill
            [voucher.redeemed_value] = vouchers_taken(
                [voucher], paid=order.total, before_vouchers=None
            )
        voucher.save(
            update_fields=[
                "status",
                "redeemed_at",
                "redeemed_store",
                "redeemed_order",
                "redeemed_value",
            ]
        )
        if audit:  # a redemption on its own (at the counter), not inside an order
            from accounts.services import audit_record

            audit_record(
                actor=actor,
                action="voucher.redeemed",
                request=request,
                target=member or voucher.member,
                after={"voucher": voucher.code, "store": store.code if store else None},
            )
        events.event_record(
            events.VOUCHER_REDEEMED,
            member_id=voucher.member_id,
            voucher_code=voucher.code,
            order_id=order.pk if order else None,
        )
        return voucher


def vouchers_expire_due(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return Voucher.objects.filter(status=Voucher.Status.AVAILABLE, expires_at__lte=now).update(
        status=Voucher.Status.EXPIRED
    )
