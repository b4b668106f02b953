"""Every CSV the product writes neutralises cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pytest

from scrm.csv_safe import cell

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "@SUM(1)", "-2+3", "\t=1", "\r=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_formula_is_written_as_text(value):
    assert cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.50", "+8613800138000", "林晓雨", "a=b", Decimal("-3"), -3])
def test_numbers_and_plain_text_stay_as_they_are(value):
    assert cell(value) == value


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


@pytest.mark.django_db
def test_segment_export_and_privacy_export_neutralise_names(
    operator_client, admin_client, store_sh
):
    from members.models import Segment
    from tests.factories import MemberFactory

    member = MemberFactory(store=store_sh, name='=HYPERLINK("http://x","y")')
    segment = Segment.objects.create(
        name="all", definition={"match": "all", "groups": []}, for_marketing=False
    )
    response = operator_client.get(f"/console/members/segments/{segment.pk}/export.csv")
    text = b"".join(response.streaming_content).decode()
    names = [r[1] for r in _rows(text)[1:]]
    assert "'" + member.name in names and member.name not in names
    archive = admin_client.post(f"/console/members/{member.code}/privacy/export/")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as z:
        csvs = [z.read(n).decode() for n in z.namelist() if n.endswith(".csv")]
    assert csvs
    for text in csvs:
        for row in _rows(text):
            assert not any(c.startswith(("=", "+", "@")) and c != "+8613800138000" for c in row)


@pytest.mark.django_db
def test_the_import_error_report_neutralises_what_the_file_held():
    from members.models import ImportJob
    from members.services.imports import import_error_report

    job = ImportJob(errors=[{"row": 2, "field": "name", "message": "=cmd|' /C calc'!A0"}])
    rows = _rows(import_error_report(job))
    assert rows[1][2].startswith("'=")
