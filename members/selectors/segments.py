"""The segment grammar: what conditions exist, how each becomes SQL, and how a definition is checked.

A definition is plain JSON, saved on ``Segment.definition``::

    {"match": "all" | "any",
     "groups": [{"match": "all" | "any",
                 "conditions": [{"field": "lifecycle_stage", "op": "in", "value": ["dormant"]}]}]}

Groups are combined by the top ``match``, conditions inside a group by the group's ``match``: one
level of nesting, as the builder shows it (AND blocks indented inside an OR, or the other way).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from members.models import Child, Member, MemberTag, Order, OrderLine, Pet, Profile
from members.models.profiles import CHILD_STAGE_MONTHS, add_months
from scrm.exceptions import ApplicationError

MAX_GROUPS = 10
MAX_CONDITIONS = 20
COUNTED = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)


@dataclass
class Field:
    key: str
    label: Any
    kind: str  # choice | number | days | text | bool
    ops: list[str]
    to_q: Callable[[str, Any, date], Q]
    choices: Callable[[], list[tuple[str, str]]] | None = None
    group: Any = ""
    hint: Any = ""
    extra: dict = field(default_factory=dict)


OP_LABELS = {
    "in": gettext_lazy("is any of"),
    "not_in": gettext_lazy("is none of"),
    "gte": gettext_lazy("at least"),
    "lte": gettext_lazy("at most"),
    "eq": gettext_lazy("exactly"),
    "contains": gettext_lazy("contains"),
    "within": gettext_lazy("within the last (days)"),
    "over": gettext_lazy("more than (days) ago"),
    "next": gettext_lazy("due within the next (days)"),
    "overdue": gettext_lazy("overdue by at least (days)"),
    "is": gettext_lazy("is"),
}


def _choice_q(path: str) -> Callable[[str, Any, date], Q]:
    def to_q(op: str, value: Any, today: date) -> Q:
        q = Q(**{f"{path}__in": value})
        return ~q if op == "not_in" else q

    return to_q


def _number_q(path: str) -> Callable[[str, Any, date], Q]:
    def to_q(op: str, value: Any, today: date) -> Q:
        return Q(**{f"{path}__{'exact' if op == 'eq' else op}": value})

    return to_q


def _days_since_q(path: str) -> Callable[[str, Any, date], Q]:
    def to_q(op: str, value: Any, today: date) -> Q:
        start = timezone.make_aware(datetime.combine(today - timedelta(days=int(value)), time.min))
        return Q(**{f"{path}__gte": start}) if op == "within" else Q(**{f"{path}__lt": start})

    return to_q


def _child_stage_q(op: str, value: Any, today: date) -> Q:
    """Stages as date ranges of birth (or due) dates, so the database does the work."""
    ranges = Q(pk__in=[])
    for stage in value:
        if stage == Child.Stage.PREGNANCY:
            ranges |= Q(birth_date__isnull=True, due_date__isnull=False) | Q(birth_date__gt=today)
        elif stage in CHILD_STAGE_MONTHS:
            low, high = CHILD_STAGE_MONTHS[stage]
            # age in [low, high) months  <=>  birth in (today - high months, today - low months]
            ranges |= Q(
                birth_date__gt=add_months(today, -high), birth_date__lte=add_months(today, -low)
            )
        elif stage == Child.Stage.OLDER:
            ranges |= Q(birth_date__lte=add_months(today, -72))
    q = Q(Exists(Child.objects.filter(ranges, member=OuterRef("pk"))))
    return ~q if op == "not_in" else q


def _tag_q(op: str, value: Any, today: date) -> Q:
    q = Q(Exists(MemberTag.objects.filter(member=OuterRef("pk"), tag__name__in=value)))
    return ~q if op == "not_in" else q


def _pet_q(op: str, value: Any, today: date) -> Q:
    q = Q(Exists(Pet.objects.filter(member=OuterRef("pk"), species__in=value)))
    return ~q if op == "not_in" else q


def _consent_q(op: str, value: Any, today: date) -> Q:
    """Members who may be reached on any of the channels: consent given and no opt-out."""
    q = Q(pk__in=[])
    for channel in value:
        q |= Q(**{f"consent_{channel}": True})
    reachable = (
        q
        & Q(marketing_opt_out=False, erased_at__isnull=True)
        & ~Q(frequency=Member.Frequency.SERVICE)
    )
    return ~reachable if op == "not_in" else reachable


def _bought_q(op: str, value: Any, today: date) -> Q:
    """Bought (a category, a product, or anything) in a period, counted orders only; with a
    minimum number of orders or a minimum spend on the matching lines when asked."""
    lines = OrderLine.objects.filter(order__status__in=COUNTED)
    if value.get("category"):
        lines = lines.filter(product__category=value["category"])
    if value.get("sku"):
        lines = lines.filter(product__sku=value["sku"])
    if value.get("days"):
        start = today - timedelta(days=int(value["days"]))
        lines = lines.filter(order__placed_at__gte=_day_start(start))
    if value.get("from"):
        lines = lines.filter(order__placed_at__gte=_day_start(date.fromisoformat(value["from"])))
    if value.get("to"):
        end = date.fromisoformat(value["to"]) + timedelta(days=1)
        lines = lines.filter(order__placed_at__lt=_day_start(end))
    min_count, min_amount = int(value.get("min_count") or 0), value.get("min_amount")
    if min_count > 1 or min_amount:
        grouped = lines.values("order__member_id").annotate(
            n=Count("order_id", distinct=True), spent=Sum("amount")
        )
        if min_count > 1:
            grouped = grouped.filter(n__gte=min_count)
        if min_amount:
            grouped = grouped.filter(spent__gte=Decimal(str(min_amount)))
        q = Q(pk__in=grouped.values("order__member_id"))
    else:
        q = Q(Exists(lines.filter(order__member=OuterRef("pk"))))
    return ~q if op == "not_in" else q


def _day_start(day: date) -> datetime:
    """Midnight of a local (Asia/Shanghai) day."""
    return timezone.make_aware(datetime.combine(day, time.min))


def _next_due_q(op: str, value: Any, today: date) -> Q:
    days = int(value)
    if op == "next":
        return Q(next_purchase_due__gte=today, next_purchase_due__lte=today + timedelta(days=days))
    return Q(next_purchase_due__lte=today - timedelta(days=days))


def _birthday_month_q(op: str, value: Any, today: date) -> Q:
    months = [today.month if v == "this" else int(v) for v in value]
    return Q(birthday__month__in=months)


def _text_q(path: str) -> Callable[[str, Any, date], Q]:
    def to_q(op: str, value: Any, today: date) -> Q:
        return Q(**{f"{path}__icontains": value})

    return to_q


def _tiers() -> list[tuple[str, str]]:
    from members.selectors.rules import loyalty_context

    return [(t.code, t.name) for t in loyalty_context().tiers]


def _stores() -> list[tuple[str, str]]:
    from accounts.models import Store

    return [(s.code, f"{s.code} {s.name}") for s in Store.objects.filter(is_active=True)]


def _owners() -> list[tuple[str, str]]:
    from accounts.models import User

    return [
        (str(u.pk), u.name or u.email or str(u.pk))
        for u in User.objects.filter(kind=User.Kind.STAFF, is_active=True).order_by("name")
    ]


def _tags() -> list[tuple[str, str]]:
    from members.models import Tag

    return [(t.name, t.name) for t in Tag.objects.all()]


def _categories() -> list[tuple[str, str]]:
    from members.models import Product
    from members.models.catalog import category_label

    cats = (  # order_by: the model's ordering (category, sku) would make each one repeat
        Product.objects.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )
    return sorted(((c, category_label(c)) for c in cats), key=lambda kv: kv[1])


def _months() -> list[tuple[str, str]]:
    return [("this", str(_("This month")))] + [(str(i), str(i)) for i in range(1, 13)]


def _static(choices) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(str(k), str(v)) for k, v in choices]


CHOICE_OPS = ["in", "not_in"]
NUMBER_OPS = ["gte", "lte", "eq"]
G_MEMBER = gettext_lazy("Member")
G_GROWTH = gettext_lazy("Growth")
G_PROFILE = gettext_lazy("Profile")
G_BUY = pgettext_lazy("segment group", "Purchases")  # 购买记录: what they bought, not a count
G_REACH = gettext_lazy("Reach")

FIELDS: dict[str, Field] = {
    f.key: f
    for f in [
        Field(
            "tier",
            gettext_lazy("Tier"),
            "choice",
            CHOICE_OPS,
            _choice_q("tier__code"),
            _tiers,
            G_GROWTH,
        ),
        Field(
            "lifecycle_stage",
            gettext_lazy("Lifecycle stage"),
            "choice",
            CHOICE_OPS,
            _choice_q("lifecycle_stage"),
            _static(Member.Stage.choices),
            G_GROWTH,
        ),
        Field(
            "value_class",
            gettext_lazy("Value class"),
            "choice",
            CHOICE_OPS,
            _choice_q("value_class"),
            _static(Member.ValueClass.choices),
            G_GROWTH,
        ),
        Field(
            "rfm_r",
            gettext_lazy("Recency score (1–5)"),
            "number",
            NUMBER_OPS,
            _number_q("rfm_r"),
            group=G_GROWTH,
        ),
        Field(
            "rfm_f",
            gettext_lazy("Frequency score (1–5)"),
            "number",
            NUMBER_OPS,
            _number_q("rfm_f"),
            group=G_GROWTH,
        ),
        Field(
            "rfm_m",
            gettext_lazy("Monetary score (1–5)"),
            "number",
            NUMBER_OPS,
            _number_q("rfm_m"),
            group=G_GROWTH,
        ),
        Field(
            "points_balance",
            gettext_lazy("Points balance"),
            "number",
            NUMBER_OPS,
            _number_q("points_balance"),
            group=G_GROWTH,
        ),
        Field(
            "store",
            gettext_lazy("Store"),
            "choice",
            CHOICE_OPS,
            _choice_q("store__code"),
            _stores,
            G_MEMBER,
        ),
        Field(
            "owner",
            gettext_lazy("Owner"),
            "choice",
            CHOICE_OPS,
            _choice_q("owner_id"),
            _owners,
            G_MEMBER,
        ),
        Field(
            "channel",
            gettext_lazy("First-touch channel"),
            "choice",
            CHOICE_OPS,
            _choice_q("channel"),
            _static(Member.Channel.choices),
            G_MEMBER,
        ),
        Field(
            "joined",
            gettext_lazy("Joined"),
            "days",
            ["within", "over"],
            _days_since_q("joined_at"),
            group=G_MEMBER,
        ),
        Field(
            "birthday_month",
            gettext_lazy("Birthday month"),
            "choice",
            ["in"],
            _birthday_month_q,
            _months,
            G_MEMBER,
        ),
        Field("tag", gettext_lazy("Tag"), "choice", CHOICE_OPS, _tag_q, _tags, G_MEMBER),
        Field(
            "child_stage",
            gettext_lazy("Child's stage"),
            "choice",
            CHOICE_OPS,
            _child_stage_q,
            _static(Child.Stage.choices),
            G_PROFILE,
        ),
        Field(
            "skin_type",
            gettext_lazy("Skin type"),
            "choice",
            CHOICE_OPS,
            _choice_q("profile__skin_type"),
            _static(Profile.SkinType.choices),
            G_PROFILE,
        ),
        Field(
            "taste",
            gettext_lazy("Liked flavours"),
            "text",
            ["contains"],
            _text_q("profile__likes"),
            group=G_PROFILE,
        ),
        Field(
            "allergies",
            gettext_lazy("Allergies"),
            "text",
            ["contains"],
            _text_q("profile__allergies"),
            group=G_PROFILE,
        ),
        Field(
            "pet",
            gettext_lazy("Pet"),
            "choice",
            CHOICE_OPS,
            _pet_q,
            _static(Pet.Species.choices),
            G_PROFILE,
        ),
        Field(
            "purchase_count",
            gettext_lazy("Purchases"),
            "number",
            NUMBER_OPS,
            _number_q("purchase_count"),
            group=G_BUY,
        ),
        Field(
            "lifetime_spend",
            gettext_lazy("Lifetime spend (CNY)"),
            "number",
            ["gte", "lte"],
            _number_q("lifetime_spend"),
            group=G_BUY,
        ),
        Field(
            "last_purchase",
            gettext_lazy("Last purchase"),
            "days",
            ["within", "over"],
            _days_since_q("last_purchase_at"),
            group=G_BUY,
        ),
        Field(
            "bought_category",
            gettext_lazy("Bought (category, product, period, count, spend)"),
            "bought",
            CHOICE_OPS,
            _bought_q,
            _categories,
            G_BUY,
        ),
        Field(
            "next_purchase_due",
            gettext_lazy("Next purchase"),
            "days",
            ["next", "overdue"],
            _next_due_q,
            group=G_BUY,
        ),
        Field(
            "consent",
            gettext_lazy("Reachable on"),
            "choice",
            CHOICE_OPS,
            _consent_q,
            _static(
                [
                    (c, getattr(Member._meta.get_field(f"consent_{c}"), "verbose_name", c))
                    for c in Member.CONSENT_CHANNELS
                ]
            ),
            G_REACH,
        ),
    ]
}


def _fail(path: str, message: str) -> ApplicationError:
    return ApplicationError(_("Check the conditions."), fields={path: [message]})


def segment_clean(definition: Any) -> dict[str, Any]:
    """A checked, normalised copy of a definition; ApplicationError naming the condition if not."""
    if not isinstance(definition, dict):
        raise _fail("definition", _("Give the conditions as an object."))
    top = definition.get("match", "all")
    if top not in ("all", "any"):
        raise _fail("match", _("Choose all or any."))
    groups = definition.get("groups") or []
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise _fail("groups", _("At most %(n)s groups.") % {"n": MAX_GROUPS})
    clean_groups = []
    total = 0
    for gi, group in enumerate(groups):
        gpath = f"groups[{gi}]"
        if not isinstance(group, dict) or group.get("match", "all") not in ("all", "any"):
            raise _fail(f"{gpath}.match", _("Choose all or any."))
        conditions = []
        for ci, cond in enumerate(group.get("conditions") or []):
            total += 1
            if total > MAX_CONDITIONS:
                raise _fail(gpath, _("At most %(n)s conditions.") % {"n": MAX_CONDITIONS})
            conditions.append(_clean_condition(cond, f"{gpath}.conditions[{ci}]"))
        if conditions:
            clean_groups.append({"match": group.get("match", "all"), "conditions": conditions})
    return {"match": top, "groups": clean_groups}


def _clean_condition(cond: Any, path: str) -> dict[str, Any]:
    if not isinstance(cond, dict) or cond.get("field") not in FIELDS:
        raise _fail(f"{path}.field", _("Choose a condition."))
    f = FIELDS[cond["field"]]
    op = cond.get("op") or f.ops[0]
    if op not in f.ops:
        raise _fail(f"{path}.op", _("Choose how to compare."))
    value = cond.get("value")
    vpath = f"{path}.value"
    if f.kind == "choice":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise _fail(vpath, _("Choose at least one value."))
        allowed = {k for k, _label in (f.choices() if f.choices else [])}
        value = [str(v) for v in value]
        if any(v not in allowed for v in value):
            raise _fail(vpath, _("Choose from the list."))
    elif f.kind in ("number", "days"):
        try:
            value = Decimal(str(value).strip())
            if not value.is_finite() or value < 0 or value > Decimal("1e9"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            raise _fail(vpath, _("Enter a number, 0 or more.")) from None
        value = int(value) if f.kind == "days" or value == value.to_integral() else str(value)
    elif f.kind == "text":
        value = str(value or "").strip()
        if not value or len(value) > 100:
            raise _fail(vpath, _("Enter some text, at most 100 characters."))
    elif f.kind == "bought":
        value = _clean_bought(value, vpath)
    return {"field": f.key, "op": op, "value": value}


def _clean_bought(value: Any, vpath: str) -> dict[str, Any]:
    from members.models import Product

    if not isinstance(value, dict):
        value = {"category": value} if value else {}
    out: dict[str, Any] = {}
    category = str(value.get("category") or "").strip()
    if category:
        if category not in {k for k, _l in _categories()}:
            raise _fail(f"{vpath}.category", _("Choose a category from the list."))
        out["category"] = category
    sku = str(value.get("sku") or "").strip()
    if sku:
        if len(sku) > 64 or not Product.objects.filter(sku=sku).exists():
            raise _fail(f"{vpath}.sku", _("No product has this SKU."))
        out["sku"] = sku

    def integer(key: str, low: int, high: int, message: str) -> int | None:
        raw = value.get(key)
        if raw in (None, ""):
            return None
        try:
            n = int(str(raw).strip())
            if not low <= n <= high:
                raise ValueError
        except (TypeError, ValueError):
            raise _fail(f"{vpath}.{key}", message) from None
        return n

    days = integer("days", 1, 3650, _("Enter a number of days from 1 to 3650."))
    if days:
        out["days"] = days
    for key in ("from", "to"):
        raw = str(value.get(key) or "").strip()
        if raw:
            try:
                out[key] = date.fromisoformat(raw).isoformat()
            except ValueError:
                raise _fail(f"{vpath}.{key}", _("Enter a date as YYYY-MM-DD.")) from None
    if "from" in out and "to" in out and out["from"] > out["to"]:
        raise _fail(f"{vpath}.to", _("The end date is before the start date."))
    if days and ("from" in out or "to" in out):
        raise _fail(f"{vpath}.days", _("Give either the last N days or dates, not both."))
    min_count = integer("min_count", 1, 10000, _("Enter a number of orders from 1 to 10000."))
    if min_count and min_count > 1:
        out["min_count"] = min_count
    raw_amount = str(value.get("min_amount") or "").strip()
    if raw_amount:
        try:
            amount = Decimal(raw_amount)
            if not amount.is_finite() or amount <= 0 or amount > Decimal("1e9"):
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            raise _fail(f"{vpath}.min_amount", _("Enter an amount in CNY above 0.")) from None
        out["min_amount"] = str(amount.quantize(Decimal("0.01")))
    return out


def segment_q(definition: dict[str, Any], *, today: date | None = None) -> Q:
    """The Q of a cleaned definition. An empty definition matches every member."""
    today = today or timezone.localdate()
    combined: Q | None = None
    for group in definition.get("groups", []):
        gq: Q | None = None
        for cond in group["conditions"]:
            f = FIELDS[cond["field"]]
            q = f.to_q(cond["op"], cond["value"], today)
            gq = q if gq is None else (gq & q if group["match"] == "all" else gq | q)
        if gq is None:
            continue
        combined = (
            gq
            if combined is None
            else (combined & gq if definition["match"] == "all" else combined | gq)
        )
    return combined if combined is not None else Q()


MARKETABLE = (
    Q(marketing_opt_out=False, erased_at__isnull=True)
    & ~Q(frequency=Member.Frequency.SERVICE)
    & (Q(consent_sms=True) | Q(consent_email=True) | Q(consent_wecom=True) | Q(consent_portal=True))
)


# --- Audiences ---------------------------------------------------------------------------------


def segment_members(*, user, definition: dict, for_marketing: bool = False):
    """The members of a (cleaned) definition the user may see; marketing audiences only hold
    members who may be reached: consent on a channel and no opt-out, at the moment of asking."""
    from members.selectors.members import members_visible_to

    qs = members_visible_to(user).filter(segment_q(definition), erased_at__isnull=True)
    return qs.filter(MARKETABLE) if for_marketing else qs


def segment_counts(*, user, definition: dict) -> dict[str, int]:
    """The matching count and, separately, how many of them marketing may reach."""
    from members.selectors.members import members_visible_to

    qs = members_visible_to(user).filter(segment_q(definition), erased_at__isnull=True)
    return qs.aggregate(total=Count("pk"), reachable=Count("pk", filter=Q(MARKETABLE)))
