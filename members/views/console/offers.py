"""Offers in the console: voucher templates (with their counts and cost), issuing a template to one
member, a pasted list or a saved segment (preview, then confirm once), the rewards of the points
catalogue, and the product catalogue with its CSV import."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.access import staff_required
from members.forms import (
    ProductForm,
    ProductImportForm,
    RewardForm,
    VoucherIssueForm,
    VoucherTemplateForm,
)
from members.models import Product, Reward, VoucherTemplate
from members.selectors.offers import (
    product_search,
    reward_search,
    template_cost,
    templates_with_counts,
)
from members.services.offers import (
    BATCH_KEY,
    PRODUCT_COLUMNS,
    batch_key_new,
    issue_plan,
    issue_recipients,
    product_sample,
    product_save,
    products_import_csv,
    reward_save,
    template_issuable_problem,
    template_save,
    vouchers_issue_many,
)
from scrm.exceptions import ApplicationError, form_errors_add
from scrm.parsing import typed

PERMS = ("use_console", "manage_members")
PAGE_SIZE = 25


@staff_required(*PERMS)
def offers_home(request: HttpRequest) -> HttpResponse:
    return redirect("offers:template_list")


# --- Voucher templates -------------------------------------------------------------------------


@staff_required(*PERMS)
def template_list(request: HttpRequest) -> HttpResponse:
    q = typed(request.GET.get("q", ""))[:100]
    page = Paginator(templates_with_counts(q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(t, template_cost(t)) for t in page.object_list]
    return render(
        request,
        "members/offers/template_list.html",
        {"page": page, "rows": rows, "q": q, "active": "offers", "tab": "vouchers"},
    )


@staff_required(*PERMS)
def template_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    template = get_object_or_404(VoucherTemplate, pk=pk) if pk else None
    form = VoucherTemplateForm(request.POST or None, template=template)
    if request.method == "POST" and form.is_valid():
        try:
            saved = template_save(
                template=template, data=form.cleaned_data, actor=request.user, request=request
            )
        except ApplicationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("Voucher template “%(name)s” saved.") % {"name": saved})
            return redirect("offers:template_edit", pk=saved.pk)
    counts = templates_with_counts().filter(pk=template.pk).first() if template else None
    return render(
        request,
        "members/offers/template_edit.html",
        {
            "form": form,
            "template": template,
            "counts": counts,
            "cost": template_cost(counts) if counts else None,
            "active": "offers",
        },
    )


@staff_required(*PERMS)
def template_issue(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the members, preview (how many receive one, how many are at the limit, which entries
    are unknown), then confirm. The batch key is drawn at the preview and travels with the
    confirm, so a second confirm of the same preview issues nothing (post/redirect/get)."""
    template = get_object_or_404(VoucherTemplate, pk=pk)
    form = VoucherIssueForm(request.POST or None)
    plan = recipients = None
    batch = ""
    problem = template_issuable_problem(template)
    action = request.POST.get("action", "preview")
    if request.method == "POST" and problem is None and form.is_valid():
        d = form.cleaned_data
        try:
            recipients = issue_recipients(
                user=request.user,
                mode=d["mode"],
                member=d["member"],
                members=d["members"],
                segment=d["segment"],
            )
            if action == "confirm":
                batch = request.POST.get("batch", "")
                result = vouchers_issue_many(
                    template=template,
                    member_ids=recipients.ids,
                    batch_key=batch,
                    actor=request.user,
                    request=request,
                )
                if result.replay:
                    messages.info(
                        request,
                        ngettext(
                            "This batch was issued already: %(n)s member holds its voucher.",
                            "This batch was issued already: %(n)s members hold its voucher.",
                            result.already,
                        )
                        % {"n": f"{result.already:,}"},
                    )
                else:
                    text = ngettext(
                        "%(n)s voucher issued.", "%(n)s vouchers issued.", result.issued
                    ) % {"n": f"{result.issued:,}"}
                    if result.at_limit:
                        text += " " + ngettext(
                            "%(n)s member already held the most allowed and was skipped.",
                            "%(n)s members already held the most allowed and were skipped.",
                            result.at_limit,
                        ) % {"n": f"{result.at_limit:,}"}
                    messages.success(request, text)
                return redirect("offers:template_edit", pk=template.pk)
            plan = issue_plan(template=template, member_ids=recipients.ids)
            batch = batch_key_new()
        except ApplicationError as exc:
            form_errors_add(form, exc)
            plan = None
    return render(
        request,
        "members/offers/template_issue.html",
        {
            "template": template,
            "form": form,
            "plan": plan,
            "recipients": recipients,
            "unknown": (recipients.unknown[:200] if recipients else []),
            "batch": batch if BATCH_KEY.fullmatch(batch) else "",
            "problem": problem,
            "active": "offers",
        },
    )


# --- Rewards -----------------------------------------------------------------------------------


@staff_required(*PERMS)
def reward_list(request: HttpRequest) -> HttpResponse:
    q = typed(request.GET.get("q", ""))[:100]
    page = Paginator(reward_search(q), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "members/offers/reward_list.html",
        {"page": page, "q": q, "active": "offers", "tab": "rewards"},
    )


@staff_required(*PERMS)
def reward_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    reward = get_object_or_404(Reward, pk=pk) if pk else None
    form = RewardForm(request.POST or None, reward=reward)
    if request.method == "POST" and form.is_valid():
        try:
            saved = reward_save(
                reward=reward, data=form.cleaned_data, actor=request.user, request=request
            )
        except ApplicationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("Reward “%(name)s” saved.") % {"name": saved})
            return redirect("offers:reward_list")
    return render(
        request,
        "members/offers/reward_edit.html",
        {"form": form, "reward": reward, "active": "offers"},
    )


# --- Products ----------------------------------------------------------------------------------


@staff_required(*PERMS)
def product_list(request: HttpRequest) -> HttpResponse:
    q = typed(request.GET.get("q", ""))[:100]
    page = Paginator(product_search(q), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "members/offers/product_list.html",
        {"page": page, "q": q, "active": "offers", "tab": "products"},
    )


@staff_required(*PERMS)
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    form = ProductForm(request.POST or None, product=product)
    if request.method == "POST" and form.is_valid():
        try:
            product_save(
                product=product, data=form.cleaned_data, actor=request.user, request=request
            )
        except ApplicationError as exc:
            form_errors_add(form, exc)
        else:
            messages.success(request, _("Product %(sku)s saved.") % {"sku": product.sku})
            return redirect("offers:product_list")
    return render(
        request,
        "members/offers/product_edit.html",
        {"form": form, "product": product, "active": "offers"},
    )


@staff_required(*PERMS)
def product_import(request: HttpRequest) -> HttpResponse:
    """Check a product file (nothing changes) or import it: every row is checked first, and a
    file with any bad row changes nothing."""
    form = ProductImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        apply = request.POST.get("action") == "import"
        report = products_import_csv(
            raw=form.cleaned_data["file"].read(), actor=request.user, apply=apply, request=request
        )
        if report.applied:
            messages.success(
                request,
                _("Products imported: %(created)s added, %(updated)s changed.")
                % {"created": f"{report.created:,}", "updated": f"{report.updated:,}"},
            )
            return redirect("offers:product_list")
    return render(
        request,
        "members/offers/product_import.html",
        {"form": form, "report": report, "columns": PRODUCT_COLUMNS, "active": "offers"},
    )


@staff_required(*PERMS)
def product_sample_file(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(product_sample(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="scrm-products-sample.csv"'
    return response
