"""Offers in the console: voucher templates, issuing a template to many members at once, the points
catalogue (rewards) and the product catalogue with its CSV import. Every change is audited in its
own transaction, with the fields that changed before and after.

Issuing is set-based: the recipients are locked in id order (as every member locker does), the
per-member limit is checked with one grouped count, the vouchers go in with one
``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` and their events with one COPY. Each
voucher of a batch carries the issue key ``batch:<batch key>:<member id>`` (unique), so a batch
confirmed twice, or a page refreshed after the confirm, issues nothing the second time.

The few reads these pages need (recipients, plans, counts) sit here with the writes they feed; they
belong in ``members/selectors/offers.py`` once that module exists."""

from __future__ import annotations

import csv
import io
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AuditEntry, User
from accounts.phones import InvalidPhone, normalize_phone
from accounts.services import audit_changes, audit_picture, audit_record, audit_record_many
from members import events
from members.models import Member, Product, Reward, Segment, Voucher, VoucherTemplate
from members.selectors.members import MEMBER_CODE, members_visible_to
from members.selectors.segments import segment_members
from members.services.vouchers import voucher_code_generate
from scrm.bulk import insert_arrays
from scrm.csv_safe import csv_decode, csv_text
from scrm.exceptions import ApplicationError
from scrm.parsing import int_or_none, money_or_none, typed

MAX_CNY = Decimal("10000000.00")  # CNY 10 million: no voucher, spend or price goes past it
CENT = Decimal("0.01")
MAX_VALID_DAYS = 3650
MAX_PER_MEMBER = 1000
MAX_CYCLE_DAYS = 3650
MAX_POINTS_COST = 10_000_000
MAX_PASTED = 10_000  # entries of a pasted list of members
MAX_PRODUCT_ROWS = 50_000
BATCH_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

TEMPLATE_FIELDS = [
    "code",
    "name_zh",
    "name_en",
    "kind",
    "amount",
    "percent",
    "gift_item",
    "buy_n",
    "get_m",
    "min_spend",
    "valid_from",
    "valid_until",
    "valid_days",
    "per_member_limit",
    "stackable",
    "terms_zh",
    "terms_en",
    "is_active",
]
# The value fields each kind uses; the others are cleared when a template is saved.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    VoucherTemplate.Kind.AMOUNT_OFF: ("amount",),
    VoucherTemplate.Kind.PERCENT_OFF: ("percent",),
    VoucherTemplate.Kind.GIFT_ITEM: ("gift_item",),
    VoucherTemplate.Kind.BUY_N_GET_M: ("buy_n", "get_m"),
}
VALUE_FIELDS = ("amount", "percent", "gift_item", "buy_n", "get_m")
REWARD_FIELDS = [
    "code",
    "name_zh",
    "name_en",
    "kind",
    "points_cost",
    "voucher_template",
    "is_active",
    "stock",
    "available_from",
    "available_until",
]
PRODUCT_FIELDS = ["name", "category", "cycle_days", "kind", "price"]
PRODUCT_COLUMNS = ["sku", "name", "category", "cycle_days", "kind", "price"]
PRODUCT_SAMPLE_ROWS = [
    ["MASK-10", "补水面膜 10 片", "skincare", "30", "consumable", "199.00"],
    ["DIAPER-L", "纸尿裤 L 码 60 片", "baby", "15", "consumable", "139.00"],
    ["STROLLER-1", "轻便婴儿推车", "baby", "", "durable", "1299.00"],
]


def _fail(fields: dict[str, list[str]]) -> ApplicationError:
    first = next(iter(fields.values()))[0]
    return ApplicationError(first, code="invalid", fields=fields)


def _model_errors(exc: ValidationError) -> ApplicationError:
    fields = {k if k != "__all__" else "": [str(m) for m in v] for k, v in exc.message_dict.items()}
    return _fail(fields)


def _save_audited[M: models.Model](
    obj: M,
    *,
    names: Iterable[str],
    before: dict[str, Any] | None,
    action: str,
    actor: User | None,
    request: HttpRequest | None,
) -> M:
    """Validate and save a template, reward or product, and audit what changed of ``names``
    (``before``: their picture before the change, None for a new row)."""
    try:
        obj.full_clean()
    except ValidationError as exc:
        raise _model_errors(exc) from None
    obj.save()
    old, new = audit_changes(before, audit_picture(obj, names))
    audit_record(actor=actor, action=action, target=obj, request=request, before=old, after=new)
    return obj


# --- Voucher templates -------------------------------------------------------------------------


def template_problems(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """What is wrong with a template's values, by field: the value its kind needs and its range,
    the minimum spend, and the validity. One rule for the form and the service."""
    problems: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        problems.setdefault(name, []).append(message)

    kind = data.get("kind")
    if kind not in VoucherTemplate.Kind.values:
        add("kind", _("Choose what the voucher gives."))
    amount = data.get("amount")
    if kind == VoucherTemplate.Kind.AMOUNT_OFF:
        if amount is None:
            add("amount", _("Enter the amount off in CNY."))
        elif not Decimal("0") < amount <= MAX_CNY:
            add("amount", _("Enter an amount above CNY 0 and at most CNY 10,000,000."))
    percent = data.get("percent")
    if kind == VoucherTemplate.Kind.PERCENT_OFF:
        if percent is None:
            add("percent", _("Enter the percent off: 10 means 10 percent off (9折)."))
        elif not 1 <= percent <= 99:
            add("percent", _("Enter a percent off from 1 to 99."))
    if kind == VoucherTemplate.Kind.GIFT_ITEM and not (data.get("gift_item") or "").strip():
        add("gift_item", _("Name the gift the voucher gives."))
    if kind == VoucherTemplate.Kind.BUY_N_GET_M:
        for name in ("buy_n", "get_m"):
            n = data.get(name)
            if n is None or not 1 <= n <= 99:
                add(name, _("Enter a number from 1 to 99."))
    min_spend = data.get("min_spend") or Decimal("0")
    if not Decimal("0") <= min_spend <= MAX_CNY:
        add("min_spend", _("Enter a minimum spend from CNY 0 to CNY 10,000,000."))
    valid_from, valid_until = data.get("valid_from"), data.get("valid_until")
    if valid_from and valid_until and valid_from > valid_until:
        add("valid_until", _("The end of the validity can't be before its start."))
    days = data.get("valid_days")
    if days is not None and not 1 <= days <= MAX_VALID_DAYS:
        add("valid_days", _("Enter a number of days from 1 to 3,650."))
    limit = data.get("per_member_limit")
    if limit is not None and not 1 <= limit <= MAX_PER_MEMBER:
        add("per_member_limit", _("Enter a limit from 1 to 1,000, or leave it empty."))
    return problems


@transaction.atomic
def template_save(
    *,
    template: VoucherTemplate | None,
    data: Mapping[str, Any],
    actor: User | None,
    request: HttpRequest | None = None,
) -> VoucherTemplate:
    """Create or change a voucher template. The code and the kind stay as they are once vouchers
    were issued from it (the issued vouchers and their events name them)."""
    problems = template_problems(data)
    if problems:
        raise _fail(problems)
    created = template is None
    obj = template or VoucherTemplate()
    before = None if created else audit_picture(obj, TEMPLATE_FIELDS)
    frozen = set() if created or not obj.vouchers.exists() else {"code", "kind"}
    for name in TEMPLATE_FIELDS:
        if name in frozen or (name == "code" and not created):
            continue
        if name in data:
            setattr(obj, name, data[name])
    obj.min_spend = Decimal(obj.min_spend or 0).quantize(CENT)
    if obj.amount is not None:
        obj.amount = obj.amount.quantize(CENT)
    obj.gift_item = (obj.gift_item or "").strip()
    keep = KIND_FIELDS.get(obj.kind, ())
    for name in VALUE_FIELDS:
        if name not in keep:
            setattr(obj, name, "" if name == "gift_item" else None)
    return _save_audited(
        obj,
        names=TEMPLATE_FIELDS,
        before=before,
        action="voucher_template.created" if created else "voucher_template.updated",
        actor=actor,
        request=request,
    )


# --- Issuing -----------------------------------------------------------------------------------


@dataclass
class Recipients:
    ids: list[int]
    unknown: list[str] = field(default_factory=list)  # entries of a pasted list no member has


def pasted_tokens(text: str) -> list[str]:
    """Codes and phones from a pasted list: one a line or separated by commas (also full-width
    and 、) or semicolons; a line that is not one phone number may hold several separated by
    spaces. Full-width digits and letters read as ASCII (NFKC)."""
    out: list[str] = []
    for piece in re.split(r"[\n\r,;、\t]+", typed(text)):
        piece = piece.strip()
        if not piece:
            continue
        try:
            normalize_phone(piece)
        except InvalidPhone:
            out += piece.split()
        else:
            out.append(piece)
    seen: dict[str, None] = {}
    for token in out:
        seen.setdefault(token, None)
    return list(seen)


def issue_recipients(
    *,
    user: User,
    mode: str,
    member: str = "",
    members: str = "",
    segment: Segment | None = None,
) -> Recipients:
    """Who a batch is for: one member (an exact code or mobile number), a pasted list (unknown
    entries listed back) or a saved segment, among the members the user may see."""
    visible = members_visible_to(user).filter(erased_at__isnull=True)
    if mode == "segment":
        if segment is None:
            raise _fail({"segment": [_("Choose a segment.")]})
        qs = segment_members(
            user=user, definition=segment.definition, for_marketing=segment.for_marketing
        )
        return Recipients(ids=list(qs.order_by("pk").values_list("pk", flat=True)))
    if mode == "one":
        tokens = [typed(member)] if typed(member) else []
        if not tokens:
            raise _fail({"member": [_("Enter a member code or a mobile number.")]})
    elif mode == "list":
        tokens = pasted_tokens(members)
        if not tokens:
            raise _fail({"members": [_("Paste member codes or mobile numbers, one a line.")]})
        if len(tokens) > MAX_PASTED:
            raise _fail({"members": [_("Paste at most 10,000 members; use a segment for more.")]})
    else:
        raise _fail({"mode": [_("Choose who receives the voucher.")]})
    codes: dict[str, str] = {}
    phones: dict[str, str] = {}
    for token in tokens:
        try:
            phones[normalize_phone(token)] = token
        except InvalidPhone:
            if MEMBER_CODE.fullmatch(token):
                codes[token.upper()] = token
    found = list(
        visible.filter(Q(code__any=list(codes)) | Q(phone__any=list(phones)))
        .order_by("pk")
        .values_list("pk", "code", "phone")
    )
    matched = {codes[c] for _pk, c, _p in found if c in codes}
    matched |= {phones[p] for _pk, _c, p in found if p in phones}
    unknown = [t for t in tokens if t not in matched]
    if mode == "one" and unknown:
        raise _fail({"member": [_("No member has this code or mobile number.")]})
    return Recipients(ids=[pk for pk, _c, _p in found], unknown=unknown)


@dataclass(frozen=True)
class IssuePlan:
    recipients: int  # members the batch is for
    will_receive: int
    at_limit: int  # already hold as many as the template allows


def _held(template: VoucherTemplate, member_ids: list[int]) -> dict[int, int]:
    """How many (not void) vouchers of the template each member holds: one grouped count."""
    if template.per_member_limit is None or not member_ids:
        return {}
    return dict(
        Voucher.objects.filter(template=template, member_id__any=member_ids)
        .exclude(status=Voucher.Status.VOID)
        .values("member_id")
        .annotate(n=Count("id"))
        .values_list("member_id", "n")
    )


def issue_plan(*, template: VoucherTemplate, member_ids: list[int]) -> IssuePlan:
    """The preview: how many would receive a voucher, and how many are at the template's limit."""
    held = _held(template, member_ids)
    limit = template.per_member_limit
    at_limit = sum(1 for m in member_ids if limit is not None and held.get(m, 0) >= limit)
    return IssuePlan(len(member_ids), len(member_ids) - at_limit, at_limit)


def batch_key_new() -> str:
    return secrets.token_urlsafe(18)


def _issuable_problem(template: VoucherTemplate, now: datetime) -> str | None:
    if not template.is_active:
        return _("This voucher template is switched off; switch it on to issue it.")
    if template.valid_until and template.valid_until <= now:
        return _("This voucher offer has ended; change its validity to issue it.")
    return None


def template_issuable_problem(template: VoucherTemplate) -> str | None:
    """Why the template may not be issued now (shown on the issue page), or None."""
    return _issuable_problem(template, timezone.now())


@dataclass(frozen=True)
class IssueResult:
    recipients: int
    issued: int
    at_limit: int
    already: int  # issued by an earlier confirm of the same batch

    @property
    def replay(self) -> bool:
        return self.issued == 0 and self.already > 0


def _insert_vouchers(rows: list[tuple[str, int, str]], common: dict[str, Any]) -> set[int]:
    """Insert (code, member id, issue key) rows; a row whose code or key is taken is left out.
    Returns the member ids that got theirs."""
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        n = len(rows)
        arrays: dict[str, list[Any]] = {
            "code": [r[0] for r in rows],
            "member_id": [r[1] for r in rows],
            "issue_key": [r[2] for r in rows],
            **{column: [value] * n for column, value in common.items()},
        }
        got = insert_arrays(Voucher, arrays, skip_conflicts=True, returning=("member_id",))
        return {m for (m,) in got}
    objs = [Voucher(code=c, member_id=m, issue_key=k, **common) for c, m, k in rows]
    Voucher.objects.bulk_create(objs, ignore_conflicts=True)
    codes, keys = [r[0] for r in rows], [r[2] for r in rows]
    return set(
        Voucher.objects.filter(code__in=codes, issue_key__in=keys).values_list(
            "member_id", flat=True
        )
    )


def vouchers_issue_many(
    *,
    template: VoucherTemplate,
    member_ids: Iterable[int],
    batch_key: str,
    actor: User | None,
    source: str = "console",
    request: HttpRequest | None = None,
    now: datetime | None = None,
) -> IssueResult:
    """Issue one voucher of ``template`` to each member, set-based, in one transaction: the
    template row is locked (two batches of one template take turns, so neither passes the
    per-member limit), then the members in id order; members at the limit are skipped; the
    vouchers, their ``voucher_issued`` events and one audit entry with the counts are written
    together. Idempotent per ``batch_key``: a member who got this batch's voucher gets no second."""
    if not BATCH_KEY.fullmatch(batch_key or ""):
        raise _fail({"batch": [_("This preview is out of date. Preview again.")]})
    now = now or timezone.now()
    with transaction.atomic():
        template = VoucherTemplate.objects.select_for_update().get(pk=template.pk)
        problem = _issuable_problem(template, now)
        if problem:
            raise ApplicationError(problem, code="voucher_inactive", status_code=409)
        wanted = sorted(set(member_ids))
        if not wanted:
            raise _fail({"": [_("Nobody to issue the voucher to.")]})
        locked = list(
            Member.objects.select_for_update()
            .filter(pk__any=wanted, erased_at__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        key = {m: f"batch:{batch_key}:{m}" for m in locked}
        done = set(
            Voucher.objects.filter(issue_key__any=list(key.values())).values_list(
                "member_id", flat=True
            )
        )
        held = _held(template, [m for m in locked if m not in done])
        limit = template.per_member_limit
        at_limit = {
            m for m in locked if m not in done and limit is not None and held.get(m, 0) >= limit
        }
        todo = [m for m in locked if m not in done and m not in at_limit]
        expires = template.valid_until
        if template.valid_days:
            by_days = now + timedelta(days=template.valid_days)
            expires = min(expires, by_days) if expires else by_days
        common = {
            "template_id": template.pk,
            "status": Voucher.Status.AVAILABLE.value,
            "issued_at": now,
            "valid_from": template.valid_from,
            "expires_at": expires,
            "source": source,
        }
        issued: dict[int, str] = {}
        for _attempt in range(5):
            rows = [(voucher_code_generate(), m, key[m]) for m in todo]
            got = _insert_vouchers(rows, common)
            issued |= {m: c for c, m, _k in rows if m in got}
            todo = [m for m in todo if m not in got]
            if not todo:
                break
            # Left out: its key is taken (the same batch, confirmed at the same moment) or,
            # rarely, its random code is; those get new codes.
            taken = set(
                Voucher.objects.filter(issue_key__any=[key[m] for m in todo]).values_list(
                    "member_id", flat=True
                )
            )
            done |= taken
            todo = [m for m in todo if m not in taken]
            if not todo:
                break
        else:
            raise ApplicationError(
                _("Could not allocate voucher codes. Try again."), code="conflict", status_code=409
            )
        events.event_record_many(
            (
                events.VOUCHER_ISSUED,
                m,
                {"voucher_code": code, "template": template.code, "source": source},
                now,
            )
            for m, code in sorted(issued.items())
        )
        result = IssueResult(
            recipients=len(wanted), issued=len(issued), at_limit=len(at_limit), already=len(done)
        )
        audit_record(
            actor=actor,
            action="voucher.batch_issued",
            target=template,
            request=request,
            after={
                "batch": batch_key,
                "recipients": result.recipients,
                "issued": result.issued,
                "skipped_at_limit": result.at_limit,
                "already_issued": result.already,
                "source": source,
            },
        )
    return result


# --- Rewards -----------------------------------------------------------------------------------


@transaction.atomic
def reward_save(
    *,
    reward: Reward | None,
    data: Mapping[str, Any],
    actor: User | None,
    request: HttpRequest | None = None,
) -> Reward:
    """Create or change a reward of the points catalogue; a voucher reward names its template."""
    problems: dict[str, list[str]] = {}
    cost = data.get("points_cost")
    if cost is None or not 1 <= cost <= MAX_POINTS_COST:
        problems["points_cost"] = [_("Enter a points price from 1 to 10,000,000.")]
    kind = data.get("kind")
    if kind not in Reward.Kind.values:
        problems["kind"] = [_("Choose what the reward is.")]
    if kind == Reward.Kind.VOUCHER and data.get("voucher_template") is None:
        problems["voucher_template"] = [_("Choose the voucher this reward gives.")]
    stock = data.get("stock")
    if stock is not None and not 0 <= stock <= MAX_POINTS_COST:
        problems["stock"] = [_("Enter a stock from 0 to 10,000,000, or leave it empty.")]
    start, end = data.get("available_from"), data.get("available_until")
    if start and end and end <= start:
        problems["available_until"] = [_("The end of the offer must be after its start.")]
    if problems:
        raise _fail(problems)
    created = reward is None
    obj = reward or Reward()
    before = None if created else audit_picture(obj, REWARD_FIELDS)
    for name in REWARD_FIELDS:
        if name == "code" and not created:
            continue
        if name in data:
            setattr(obj, name, data[name])
    if obj.kind != Reward.Kind.VOUCHER:
        obj.voucher_template = None
    return _save_audited(
        obj,
        names=REWARD_FIELDS,
        before=before,
        action="reward.created" if created else "reward.updated",
        actor=actor,
        request=request,
    )


# --- Products ----------------------------------------------------------------------------------


def product_problems(data: Mapping[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    days = data.get("cycle_days")
    if days is not None and not 1 <= days <= MAX_CYCLE_DAYS:
        problems["cycle_days"] = [_("Enter a number of days from 1 to 3,650, or leave it empty.")]
    if "kind" in data and data["kind"] not in Product.Kind.values:
        problems["kind"] = [_("Choose consumable or durable.")]
    price = data.get("price")
    if price is not None and not Decimal("0") <= price <= MAX_CNY:
        problems["price"] = [_("Enter a price from CNY 0 to CNY 10,000,000.")]
    return problems


@transaction.atomic
def product_save(
    *,
    product: Product,
    data: Mapping[str, Any],
    actor: User | None,
    request: HttpRequest | None = None,
) -> Product:
    """Change a product: its name, category, consumption cycle, consumable or durable, price. The
    SKU stays (orders and the POS name products by it)."""
    problems = product_problems(data)
    if problems:
        raise _fail(problems)
    before = audit_picture(product, PRODUCT_FIELDS)
    for name in PRODUCT_FIELDS:
        if name in data:
            setattr(product, name, data[name])
    if product.price is not None:
        product.price = product.price.quantize(CENT)
    return _save_audited(
        product,
        names=PRODUCT_FIELDS,
        before=before,
        action="product.updated",
        actor=actor,
        request=request,
    )


def product_sample() -> str:
    """A file to start from, as Excel opens it (UTF-8 with a BOM)."""
    return csv_text([PRODUCT_COLUMNS, *PRODUCT_SAMPLE_ROWS])


@dataclass
class ProductImport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    applied: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)

    def error(self, row: int, column: str, message: str) -> None:
        if len(self.errors) < 1000:
            self.errors.append({"row": row, "column": column, "message": message})


KIND_WORDS = {
    "consumable": Product.Kind.CONSUMABLE,
    "消耗品": Product.Kind.CONSUMABLE,
    "易耗品": Product.Kind.CONSUMABLE,
    "durable": Product.Kind.DURABLE,
    "耐用品": Product.Kind.DURABLE,
}


def _csv_rows(raw: bytes, report: ProductImport) -> tuple[list[str], list[dict[str, str]]] | None:
    text = csv_decode(raw)
    if text is None:
        report.error(1, "", _("This is not a CSV text file. In Excel, save it as “CSV UTF-8”."))
        return None
    try:
        reader = csv.reader(io.StringIO(text))
        lines = list(reader)
    except csv.Error:
        report.error(1, "", _("This file is not a readable CSV file."))
        return None
    header = [typed(h).lower() for h in lines[0]]
    unknown = [h for h in header if h and h not in PRODUCT_COLUMNS]
    for h in unknown:
        report.error(
            1,
            h,
            _("Unknown column; the columns are %(cols)s.") % {"cols": ", ".join(PRODUCT_COLUMNS)},
        )
    if "sku" not in header:
        report.error(1, "sku", _("The file needs a sku column."))
    if report.errors:
        return None
    rows = [
        {h: (cells[i] if i < len(cells) else "").strip() for i, h in enumerate(header) if h}
        for cells in lines[1:]
    ]
    return header, rows


def products_import_csv(
    *, raw: bytes, actor: User | None, apply: bool, request: HttpRequest | None = None
) -> ProductImport:
    """Check a product file row by row (errors by row and column; the header is row 1) and, when
    ``apply`` and no row is wrong, add the new SKUs and update the others in one transaction: all
    or nothing. An empty cell leaves the product's value as it is."""
    report = ProductImport()
    parsed = _csv_rows(raw, report)
    if parsed is None:
        return report
    _header, rows = parsed
    report.rows = len(rows)
    if not rows:
        report.error(2, "", _("The file has no rows under its header."))
        return report
    if len(rows) > MAX_PRODUCT_ROWS:
        report.error(2, "", _("At most 50,000 rows a file."))
        return report
    skus = [r.get("sku", "") for r in rows]
    existing = {p.sku: p for p in Product.objects.filter(sku__any=[s for s in skus if s])}
    seen: dict[str, int] = {}
    changes: list[tuple[str, dict[str, Any]]] = []
    for n, row in enumerate(rows, start=2):
        values: dict[str, Any] = {}
        sku = row.get("sku", "")
        if not sku:
            report.error(n, "sku", _("Enter the SKU."))
        elif len(sku) > 64 or "\x00" in sku:
            report.error(n, "sku", _("At most 64 characters."))
        elif sku in seen:
            report.error(n, "sku", _("The same SKU is on row %(row)s.") % {"row": seen[sku]})
        else:
            seen[sku] = n
        name = row.get("name", "")
        if name:
            if len(name) > 200:
                report.error(n, "name", _("At most 200 characters."))
            values["name"] = name
        elif sku and sku not in existing:
            report.error(n, "name", _("A new product needs a name."))
        category = row.get("category", "")
        if category:
            if len(category) > 64:
                report.error(n, "category", _("At most 64 characters."))
            values["category"] = category
        days_text = row.get("cycle_days", "")
        if days_text:
            days = int_or_none(days_text)
            if days is None or not 1 <= days <= MAX_CYCLE_DAYS:
                report.error(n, "cycle_days", _("Enter a number of days from 1 to 3,650."))
            values["cycle_days"] = days
        kind_text = typed(row.get("kind", "")).lower()
        if kind_text:
            kind = KIND_WORDS.get(kind_text)
            if kind is None:
                report.error(n, "kind", _("Enter consumable or durable."))
            values["kind"] = kind
        price_text = row.get("price", "")
        if price_text:
            price = money_or_none(price_text, maximum=MAX_CNY)
            if price is None:
                report.error(
                    n, "price", _("Enter a price in CNY, such as 199.00, up to 10,000,000.")
                )
            values["price"] = price
        changes.append((sku, values))
    if report.errors or not apply:
        return report
    try:
        _products_apply(changes, existing, report, actor=actor, request=request)
    except IntegrityError:
        # An order brought one of the new SKUs in between the check and the apply.
        report.error(
            1, "sku", _("The catalogue changed meanwhile; nothing was imported. Try again.")
        )
    return report


@transaction.atomic
def _products_apply(
    changes: list[tuple[str, dict[str, Any]]],
    existing: dict[str, Product],
    report: ProductImport,
    *,
    actor: User | None,
    request: HttpRequest | None,
) -> None:
    new: list[Product] = []
    changed: list[Product] = []
    audit: list[tuple[Product, dict[str, Any] | None, dict[str, Any]]] = []
    for sku, values in changes:
        product = existing.get(sku)
        if product is None:
            product = Product(sku=sku, **values)
            new.append(product)
            audit.append((product, None, audit_picture(product, PRODUCT_FIELDS)))
            continue
        before = audit_picture(product, PRODUCT_FIELDS)
        for name, value in values.items():
            setattr(product, name, value)
        old, after = audit_changes(before, audit_picture(product, PRODUCT_FIELDS))
        if after:
            changed.append(product)
            audit.append((product, old, after))
    Product.objects.bulk_create(new, batch_size=2000)
    Product.objects.bulk_update(changed, PRODUCT_FIELDS, batch_size=2000)
    report.created, report.updated, report.applied = len(new), len(changed), True
    audit_record_many(
        actor=actor,
        action="product.imported",
        target_type=Product._meta.label_lower,
        targets=((p.pk, str(p), old, after) for p, old, after in audit),
        via=AuditEntry.Via.WEB if request is not None else AuditEntry.Via.SYSTEM,
    )
    audit_record(
        actor=actor,
        action="products.import_applied",
        request=request,
        target_label=_("Product catalogue"),
        after={"rows": report.rows, "created": report.created, "updated": report.updated},
    )
