"""An operator imports a file of orders in the browser: the row errors are named and downloadable,
the bad rows are skipped on confirmation, and a real Celery worker (on the test's Redis broker)
applies the rest while the page polls its progress."""

from __future__ import annotations

import pytest

from accounts import roles
from members.models import ImportJob, Member, Order
from tests.e2e.test_journeys import staff_sign_in
from tests.factories import MemberFactory, StoreFactory, make_staff

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CSV = """source,external_id,member,store,placed_at,sku,name,category,quantity,amount
pos,A-1,13800138000,SH01,2026-11-01 10:00,MASK-10,面膜,skincare,1,100.00
pos,A-1,13800138000,SH01,2026-11-01 10:00,SERUM,精华,skincare,1,200.00
pos,A-2,13800138000,SH01,2026-11-02 10:00,MASK-10,面膜,skincare,1,100.00
pos,A-3,13800138000,SH01,2026-11-03 10:00,TOAST,吐司,bakery,2,44.00
pos,A-4,12345,SH01,2026-11-03 10:00,X,x,x,1,10.00
pos,A-5,13900139000,NOPE,2026-02-30 10:00,X,x,x,zero,10.00
"""


@pytest.fixture
def world(db):
    StoreFactory(code="SH01", name="上海静安嘉里店", city="上海")
    make_staff(roles.OPERATOR, email="operator@example.com", name="周敏")
    MemberFactory(phone="+8613800138000", name="林晓雨")


@pytest.fixture
def worker():
    """A real worker thread on the broker the settings name, as in production."""
    from celery.contrib.testing.worker import start_worker

    from scrm.celery import app

    app.control.purge()  # messages other tests queued and no worker ran
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


@pytest.mark.parametrize("lang", ["zh-hans", "en"])
def test_operator_imports_orders_skipping_the_bad_rows(
    world, worker, open_page, shoot, lang, tmp_path
):
    page = open_page(lang=lang)
    staff_sign_in(page, "operator@example.com")
    page.goto("/console/members/imports/")
    shoot(page, f"import-list-{lang}-1280")
    path = tmp_path / "orders.csv"
    path.write_text(CSV, encoding="utf-8")
    page.check("input[name=kind][value=orders]")
    page.set_input_files("input[name=file]", str(path))
    page.click("form[enctype] button[type=submit]")

    # The worker checks the file; the page polls until it is done.
    page.wait_for_selector("[data-status=invalid]")
    rows = page.locator("#import-status tbody tr")
    found = {
        (
            rows.nth(i).locator("td").nth(0).inner_text(),
            rows.nth(i).locator("td").nth(1).inner_text(),
        )
        for i in range(rows.count())
    }
    assert {("6", "member"), ("7", "store"), ("7", "placed_at"), ("7", "quantity")} <= found
    shoot(page, f"import-errors-{lang}-1280")
    with page.expect_download() as download:
        page.click("a[href$='/errors.csv']")
    report = download.value.path().read_text(encoding="utf-8-sig")
    assert "placed_at" in report and report.count("\n") >= 5
    assert not Order.objects.exists()  # nothing applied from a file with errors

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form[data-confirm] button[type=submit]")
    page.wait_for_selector("[data-status=done]")
    shoot(page, f"import-done-{lang}-1280")
    done = page.locator("#import-status").inner_text()
    assert "4" in done and "3" in done  # 4 rows applied, 3 new orders
    job = ImportJob.objects.get()
    assert (job.applied_rows, job.created_records) == (4, 3)
    member = Member.objects.get(phone="+8613800138000")
    assert member.purchase_count == 3 and member.tier.code == "vip"  # the 3rd order makes a VIP

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    shoot(page, f"import-done-{lang}-390")


def test_the_progress_bar_keeps_polling_until_the_import_ends(world, open_page):
    from django.core.files.base import ContentFile

    from members.services.imports import _progress

    job = ImportJob(kind="orders", filename="big.csv", total_rows=1000)
    job.file.save("big.csv", ContentFile(b"x"), save=False)
    job.status = ImportJob.Status.APPLYING
    job.save()
    _progress(job.pk, "applying", 100, 1000)
    page = open_page(lang="en")
    staff_sign_in(page, "operator@example.com")
    page.goto(f"/console/members/imports/{job.pk}/")
    page.wait_for_function("() => document.querySelector('progress')?.value === 100")
    _progress(job.pk, "applying", 600, 1000)
    page.wait_for_function("() => document.querySelector('progress')?.value === 600")
    _progress(job.pk, "applying", 900, 1000)  # a third poll: each swap keeps the next one going
    page.wait_for_function("() => document.querySelector('progress')?.value === 900")
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE, applied_rows=1000, created_records=500
    )
    page.wait_for_selector("[data-status=done]")
    assert "1000" in page.locator("#import-status").inner_text().replace(",", "")
