"""The segment builder (htmx), saved segments, their members and the streamed CSV export."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access import staff_required
from accounts.services import audit_record
from members.models import Product, Segment
from members.selectors import segment_counts, segment_members
from members.selectors.segments import FIELDS, OP_LABELS, segment_clean
from members.services.segments import segment_delete, segment_save
from scrm.csv_safe import BOM, SafeWriter
from scrm.exceptions import ApplicationError
from scrm.parsing import int_or_none

BOUGHT_PARTS = ("days", "sku", "from", "to", "min_count", "min_amount")
KEY = re.compile(r"^g(\d+)_c(\d+)_(field|op|value|days|sku|from|to|min_count|min_amount)$")


SEGMENT_PATH = re.compile(r"groups\[(\d+)\](?:\.conditions\[(\d+)\])?")


def readable_errors(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors by where they are as the operator sees the builder ("Group 1, condition 2"), not
    by the definition's internal path (``groups[0].conditions[1].value``)."""
    out: dict[str, list[str]] = {}
    for path, messages_ in fields.items():
        m = SEGMENT_PATH.match(path)
        if m and m[2] is not None:
            where = _("Group %(g)s, condition %(c)s") % {"g": int(m[1]) + 1, "c": int(m[2]) + 1}
        elif m:
            where = _("Group %(g)s") % {"g": int(m[1]) + 1}
        else:
            where = ""
        out.setdefault(where, []).extend(messages_)
    return out


def definition_from_post(post) -> dict[str, Any]:
    """The builder's form as a (not yet checked) definition, keeping what the operator typed."""
    groups: dict[int, dict[str, Any]] = {}
    for key in post:
        m = KEY.match(key)
        if m:
            gi, ci, part = int(m[1]), int(m[2]), m[3]
            group = groups.setdefault(
                gi, {"match": post.get(f"g{gi}_match", "all"), "conditions": {}}
            )
            cond = group["conditions"].setdefault(ci, {})
            cond[part] = post.getlist(key) if part == "value" else post.get(key)
        elif re.fullmatch(r"g(\d+)_match", key):
            gi = int(key[1:].split("_")[0])
            groups.setdefault(gi, {"match": post.get(key), "conditions": {}})
    out = []
    for gi in sorted(groups):
        conds = []
        for ci in sorted(groups[gi]["conditions"]):
            c = groups[gi]["conditions"][ci]
            f = FIELDS.get(c.get("field", ""))
            value: Any = c.get("value", [])
            if f is not None and f.kind != "choice":
                value = value[0] if value else ""
            if f is not None and f.kind == "bought":
                value = {"category": value, **{p: c.get(p) or "" for p in BOUGHT_PARTS}}
            conds.append({"field": c.get("field", ""), "op": c.get("op", ""), "value": value})
        out.append(
            {
                "match": groups[gi]["match"] if groups[gi]["match"] in ("all", "any") else "all",
                "conditions": conds,
            }
        )
    return {
        "match": post.get("match", "all") if post.get("match") in ("all", "any") else "all",
        "groups": out,
    }


def _complete_only(definition: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The conditions that are filled in well enough to count; and how many are not."""
    groups, skipped = [], 0
    for group in definition["groups"]:
        kept = []
        for cond in group["conditions"]:
            try:
                segment_clean({"groups": [{"conditions": [cond]}]})
            except ApplicationError:
                skipped += 1
                continue
            kept.append(cond)
        groups.append({"match": group["match"], "conditions": kept})
    return segment_clean({"match": definition["match"], "groups": groups}), skipped


def _apply_action(definition: dict[str, Any], action: str) -> None:
    """The builder's buttons: add a group, add a condition to group N, remove condition N:M. A
    malformed action (a typed URL, a bot) changes nothing."""
    groups = definition["groups"]
    parts = action.split(":")
    if action == "add_group":
        groups.append({"match": "all", "conditions": [{"field": "", "op": "", "value": []}]})
    elif parts[0] == "add" and len(parts) == 2:
        gi = int_or_none(parts[1])
        if gi is not None and gi < len(groups):
            groups[gi]["conditions"].append({"field": "", "op": "", "value": []})
    elif parts[0] == "remove" and len(parts) == 3:
        gi, ci = int_or_none(parts[1]), int_or_none(parts[2])
        if gi is not None and ci is not None and gi < len(groups):
            if ci < len(groups[gi]["conditions"]):
                del groups[gi]["conditions"][ci]
            if not groups[gi]["conditions"]:
                del groups[gi]
    if not groups:
        groups.append({"match": "all", "conditions": [{"field": "", "op": "", "value": []}]})


def _field_menu() -> list[tuple[str, list[tuple[str, str]]]]:
    menu: dict[str, list[tuple[str, str]]] = {}
    for f in FIELDS.values():
        menu.setdefault(str(f.group), []).append((f.key, str(f.label)))
    return list(menu.items())


def _rows(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The definition laid out for the template: each condition with its field's ops and choices."""
    out = []
    for gi, group in enumerate(definition["groups"]):
        conds = []
        for ci, cond in enumerate(group["conditions"]):
            f = FIELDS.get(cond.get("field") or "")
            value = cond.get("value")
            conds.append(
                {
                    "gi": gi,
                    "ci": ci,
                    "field": f,
                    "key": f.key if f else "",
                    "op": cond.get("op") or (f.ops[0] if f else ""),
                    "ops": [(o, OP_LABELS[o]) for o in f.ops] if f else [],
                    "choices": f.choices() if f and f.choices else [],
                    "values": value if isinstance(value, list) else [],
                    "scalar": value if isinstance(value, str | int) else "",
                    "bought": value if isinstance(value, dict) else {},
                }
            )
        out.append({"gi": gi, "match": group["match"], "conditions": conds})
    return out


def _context(
    request: HttpRequest, definition: dict[str, Any], segment: Segment | None
) -> dict[str, Any]:
    counted, skipped = _complete_only(definition)
    counts = segment_counts(user=request.user, definition=counted)
    return {
        "definition": definition,
        "groups": _rows(definition),
        "menu": _field_menu(),
        "counts": counts,
        "skipped": skipped,
        "segment": segment,
        "skus": Product.objects.order_by("sku").values_list("sku", "name")[:500],
        "active": "segments",
    }


@staff_required("use_console", "manage_members")
def segment_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    qs = Segment.objects.select_related("created_by")
    if q:
        qs = qs.filter(name__icontains=q)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(
        request, "members/segment_list.html", {"page": page, "q": q, "active": "segments"}
    )


@staff_required("use_console", "manage_members")
def segment_builder(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk) if pk else None
    errors: dict[str, list[str]] = {}
    form = {
        "name": segment.name if segment else "",
        "for_marketing": segment.for_marketing if segment else True,
    }
    if request.method == "POST":
        definition = definition_from_post(request.POST)
        action = request.POST.get("action", "")
        form = {
            "name": request.POST.get("name", ""),
            "for_marketing": bool(request.POST.get("for_marketing")),
        }
        if action == "save":
            try:
                counts = segment_counts(user=request.user, definition=segment_clean(definition))
                segment = segment_save(
                    name=form["name"],
                    definition=definition,
                    for_marketing=form["for_marketing"],
                    actor=request.user,
                    count=counts["total"],
                    segment=segment,
                    request=request,
                )
            except ApplicationError as exc:
                errors = readable_errors(exc.fields or {"": [exc.message]})
            else:
                messages.success(request, _("Segment saved."))
                return redirect("members:segment_detail", pk=segment.pk)
        elif action:
            _apply_action(definition, action)
    else:
        definition = (
            {
                "match": segment.definition.get("match", "all"),
                "groups": segment.definition.get("groups", []),
            }
            if segment
            else {"match": "all", "groups": []}
        )
        if not definition["groups"]:
            _apply_action(definition, "")
    context = _context(request, definition, segment) | {"errors": errors, "form": form}
    if request.htmx and request.method == "POST" and request.POST.get("action") != "save":
        return render(request, "members/segment_builder.html#builder", context | {"oob": True})
    return render(request, "members/segment_builder.html", context)


@staff_required("use_console", "manage_members")
def segment_count(request: HttpRequest) -> HttpResponse:
    definition = definition_from_post(request.POST)
    return render(
        request, "members/segment_builder.html#count", _context(request, definition, None)
    )


@staff_required("use_console", "manage_members")
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "POST" and request.POST.get("action") == "delete":
        segment_delete(segment=segment, actor=request.user, request=request)
        messages.success(request, _("Segment deleted."))
        return redirect("members:segment_list")
    qs = segment_members(
        user=request.user, definition=segment.definition, for_marketing=segment.for_marketing
    )
    page = Paginator(qs.order_by("-last_purchase_at", "-id"), 25).get_page(request.GET.get("page"))
    counts = segment_counts(user=request.user, definition=segment.definition)
    return render(
        request,
        "members/segment_detail.html",
        {"segment": segment, "page": page, "counts": counts, "active": "segments"},
    )


# (CSV header, field path), in the order of the file.
EXPORT_COLUMNS = [
    ("code", "code"),
    ("name", "name"),
    ("phone", "phone"),
    ("store", "store__code"),
    ("tier", "tier__code"),
    ("lifecycle_stage", "lifecycle_stage"),
    ("purchase_count", "purchase_count"),
    ("lifetime_spend", "lifetime_spend"),
    ("points_balance", "points_balance"),
    ("last_purchase_at", "last_purchase_at"),
    ("next_purchase_due", "next_purchase_due"),
    ("sms", "consent_sms"),
    ("email", "consent_email"),
    ("wecom", "consent_wecom"),
]


@staff_required("use_console", "manage_members")
def segment_export(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Streamed CSV: rows go out as they are read, so a 500,000-member export never sits in memory.
    A marketing segment leaves out whoever opted out up to the moment the export runs."""
    segment = get_object_or_404(Segment, pk=pk)
    qs = segment_members(
        user=request.user, definition=segment.definition, for_marketing=segment.for_marketing
    ).order_by("pk")
    audit_record(
        actor=request.user,
        action="segment.exported",
        target=segment,
        request=request,
        after={"for_marketing": segment.for_marketing},
    )
    writer = SafeWriter()
    rows = qs.values_list(*(path for _header, path in EXPORT_COLUMNS))

    def stream():
        yield BOM + writer.row([header for header, _path in EXPORT_COLUMNS])
        for row in rows.iterator(chunk_size=5000):
            yield writer.row(
                [
                    *row[:9],
                    timezone.localtime(row[9]).strftime("%Y-%m-%d %H:%M") if row[9] else "",
                    row[10] or "",
                    *(int(b) for b in row[11:]),
                ]
            )

    name = f"segment-{segment.pk}-{timezone.localdate():%Y%m%d}.csv"
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- Custom attributes and tags ----------------------------------------------------------------


@staff_required("use_console", "manage_members")
def profile_fields(request: HttpRequest) -> HttpResponse:
    """The attributes staff fill in on every member, and the tags (manual or automatic)."""
    from django.db.models import Count

    from members.models import AttributeDefinition, Tag
    from members.selectors.segments import _categories
    from members.services.profiles import (
        attribute_define,
        attribute_delete,
        tag_define,
        tag_delete,
        tags_auto_apply,
    )

    errors: dict[str, list[str]] = {}
    form = {}
    if request.method == "POST":
        action = request.POST.get("action", "")
        form = request.POST
        try:
            if action == "add_attribute":
                a = attribute_define(
                    key=request.POST.get("key", ""),
                    label=request.POST.get("label", ""),
                    kind=request.POST.get("kind", ""),
                    choices=request.POST.get("choices", "").splitlines(),
                    actor=request.user,
                    request=request,
                )
                messages.success(request, _("Attribute “%(label)s” added.") % {"label": a.label})
            elif action == "add_tag":
                t = tag_define(
                    name=request.POST.get("name", ""),
                    rule_category=request.POST.get("rule_category", ""),
                    actor=request.user,
                    request=request,
                )
                if t.rule_category:
                    n = tags_auto_apply()
                    messages.success(
                        request,
                        _("Automatic tag “%(name)s” added to %(n)s members.")
                        % {"name": t.name, "n": n},
                    )
                else:
                    messages.success(request, _("Tag “%(name)s” added.") % {"name": t.name})
            elif action.startswith("delete_attribute:"):
                a = get_object_or_404(
                    AttributeDefinition, pk=int_or_none(action.split(":")[1]) or 0
                )
                n = attribute_delete(attribute=a, actor=request.user, request=request)
                messages.success(
                    request,
                    _("Attribute “%(label)s” deleted with %(n)s values.")
                    % {"label": a.label, "n": n},
                )
            elif action.startswith("delete_tag:"):
                t = get_object_or_404(Tag, pk=int_or_none(action.split(":")[1]) or 0)
                n = tag_delete(tag=t, actor=request.user, request=request)
                messages.success(
                    request,
                    _("Tag “%(name)s” deleted from %(n)s members.") % {"name": t.name, "n": n},
                )
        except ApplicationError as exc:
            errors = exc.fields or {"": [exc.message]}
        except ValueError:
            errors = {"": [_("Unknown action.")]}
        else:
            return redirect("members:profile_fields")
    return render(
        request,
        "members/profile_fields.html",
        {
            "attributes": AttributeDefinition.objects.annotate(n=Count("values")),
            "tags": Tag.objects.annotate(n=Count("member_tags")),
            "kinds": AttributeDefinition.Kind.choices,
            "categories": _categories(),
            "errors": errors,
            "form": form,
            "active": "segments",
        },
    )
