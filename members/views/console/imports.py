"""Members → Import: CSV files of orders and members, checked row by row, then applied."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from accounts.access import staff_required
from members import tasks
from members.forms import ImportForm
from members.models import ImportJob
from members.services.imports import (
    MEMBER_COLUMNS,
    ORDER_COLUMNS,
    import_confirm,
    import_create,
    import_error_report,
    import_progress,
)
from scrm.exceptions import ApplicationError


@staff_required("use_console", "manage_members")
def import_list(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_create(
                kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"], actor=request.user
            )
        except ApplicationError as exc:
            for f, errs in exc.fields.items():
                for e in errs:
                    form.add_error(f if f in form.fields else None, e)
        else:
            tasks.import_validate.delay_on_commit(job.pk, language=get_language())
            return redirect("members:import_detail", pk=job.pk)
    page = Paginator(ImportJob.objects.select_related("created_by"), 20).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "members/import_list.html",
        {
            "form": form,
            "page": page,
            "order_columns": ORDER_COLUMNS,
            "member_columns": MEMBER_COLUMNS,
            "active": "members",
        },
    )


@staff_required("use_console", "manage_members")
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    context = {
        "job": job,
        "progress": import_progress(job),
        "errors": job.errors[:100],
        "active": "members",
    }
    if request.htmx:
        return render(request, "members/import_detail.html#status", context)
    return render(request, "members/import_detail.html", context)


@staff_required("use_console", "manage_members")
@require_POST
def import_apply(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    skip = request.POST.get("skip_bad_rows") == "1"
    try:
        # The first apply, or again after its worker stopped: the same confirm, the same task.
        import_confirm(job_id=job.pk, skip_bad_rows=skip, language=get_language())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        tasks.import_apply.delay_on_commit(job.pk, skip, request.user.pk, language=get_language())
    return redirect("members:import_detail", pk=job.pk)


@staff_required("use_console", "manage_members")
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk)
    response = HttpResponse(import_error_report(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@staff_required("use_console", "manage_members")
def import_sample_file(request: HttpRequest, kind: str) -> HttpResponse:
    from members.demo.samples import sample_csv  # rows that name the demo's members and stores

    response = HttpResponse(sample_csv(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scrm-{kind}-sample.csv"'
    return response
