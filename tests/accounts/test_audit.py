from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from accounts.models import AuditEntry
from accounts.services import audit_record, store_save


@pytest.mark.django_db
def test_store_changes_record_before_and_after_with_actor_and_ip(
    admin_client, admin_user, store_sh
):
    response = admin_client.post(
        f"/console/settings/stores/{store_sh.pk}/",
        {
            "code": "SH01",
            "name": "上海新天地店",
            "city": "上海",
            "time_zone": "Asia/Shanghai",
            "is_active": "on",
        },
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="store.updated")
    assert entry.actor == admin_user
    assert entry.before["name"] == "上海静安店" and entry.after["name"] == "上海新天地店"
    assert entry.ip == "10.1.2.3"
    assert ("name", "上海静安店", "上海新天地店") in entry.changed_fields


@pytest.mark.django_db
def test_audit_rows_cannot_be_changed_through_the_orm(admin_user):
    from django.core.exceptions import ValidationError

    entry = audit_record(actor=admin_user, action="test.thing")
    entry.action = "tampered"
    with pytest.raises(ValidationError):
        entry.save()
    with pytest.raises(ValidationError):
        entry.delete()


@pytest.mark.django_db
def test_the_database_refuses_updates_and_deletes_of_audit_rows(admin_user):
    assert connection.vendor == "postgresql"
    audit_record(actor=admin_user, action="test.thing")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(action="test.thing").count() == 1


@pytest.mark.django_db
def test_admin_filters_the_audit_log(admin_client, admin_user):
    store_save(data={"code": "HZ01", "name": "杭州店", "city": "杭州"}, actor=admin_user)
    audit_record(actor=None, action="member.enrolled", target_label="张三")
    page = admin_client.get("/console/audit/", {"action": "store."})
    html = page.content.decode()
    assert "杭州店" in html and "张三" not in html
    page = admin_client.get("/console/audit/", {"q": "张三"})
    assert "张三" in page.content.decode() and "杭州店" not in page.content.decode()
    partial = admin_client.get("/console/audit/", {"q": "张三"}, HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "张三" in partial.content.decode()


@pytest.mark.django_db
def test_bad_audit_filter_dates_are_named_not_a_500(admin_client):
    page = admin_client.get("/console/audit/", {"date_from": "not-a-date"})
    assert page.status_code == 200
    assert 'href="#id_date_from"' in page.content.decode()


@pytest.mark.django_db
def test_the_audit_log_shows_mappings_lists_and_yes_no_as_people_read_them(admin_client):
    from django.utils import translation

    audit_record(
        actor=None,
        action="member.handover",
        before={"by_owner": {}, "sms": False},
        after={"by_owner": {"李娜": 1, "王芳": 2}, "sms": True, "stores": ["SH01", "BJ01"]},
    )
    entry = AuditEntry.objects.get(action="member.handover")
    with translation.override("zh-hans"):
        fields = {k: (str(old), str(new)) for k, old, new in entry.changed_fields}
    assert fields["by_owner"] == ("—", "李娜: 1, 王芳: 2")
    assert fields["sms"] == ("否", "是") and fields["stores"][1] == "SH01, BJ01"
    html = admin_client.get("/console/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "{&#x27;" not in html.content.decode() and "李娜: 1" in html.content.decode()


# --- Labels ------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
ACTION = re.compile(r"[a-z][a-z_]*\.[a-z][a-z_]*")


def _action_values(node: ast.AST) -> tuple[list[str], bool]:
    """The action strings an ``action`` argument can take (both branches of a conditional), and
    whether it is built at run time (an f-string or a sum: no test could know its label)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ([node.value] if ACTION.fullmatch(node.value) else []), False
    if isinstance(node, ast.IfExp):
        (a, built_a), (b, built_b) = _action_values(node.body), _action_values(node.orelse)
        return a + b, built_a or built_b
    return [], isinstance(node, (ast.JoinedStr, ast.BinOp))


def _recorded_actions() -> tuple[dict[str, str], list[str]]:
    """Every audit action the code base records, with where: the literals passed as ``action=``
    and those passed by position to one of our functions with an ``action`` parameter."""
    trees = []
    for app in ("scrm", "accounts", "members", "campaigns", "community"):
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                trees.append((path.relative_to(ROOT), ast.parse(path.read_text())))
    positions: dict[str, int] = {}  # function name -> index of its positional ``action``
    for _path, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                names = [a.arg for a in node.args.posonlyargs + node.args.args]
                if "action" in names:
                    positions[node.name] = names.index("action")
    found: dict[str, str] = {}
    built: list[str] = []
    for path, tree in trees:
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            values = [k.value for k in node.keywords if k.arg == "action"]
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in positions and len(node.args) > positions[name]:
                values.append(node.args[positions[name]])
            for value in values:
                actions, is_built = _action_values(value)
                if is_built:
                    built.append(f"{path}:{node.lineno}")
                for action in actions:
                    found.setdefault(action, f"{path}:{node.lineno}")
    return found, built


def test_every_action_the_code_records_has_a_label_in_both_languages():
    from django.utils import translation

    from accounts.models import AUDIT_ACTION_LABELS

    found, built = _recorded_actions()
    assert not built, f"write these actions as literals, so their labels can be checked: {built}"
    assert len(found) >= 70  # the walk sees the actions of every app
    for action in ("counter.cross_store_lookup", "member.pet_deleted", "campaign.changed"):
        assert action in found  # by position, a conditional's other branch, a former f-string
    missing = [
        f"{a} ({where})" for a, where in sorted(found.items()) if a not in AUDIT_ACTION_LABELS
    ]
    assert not missing, "no audit label for: " + ", ".join(missing)
    with translation.override("en"):
        same = [a for a in found if str(AUDIT_ACTION_LABELS[a]) == a]
    with translation.override("zh-hans"):
        english = [
            a for a in found if not re.search(r"[\u4e00-\u9fff]", str(AUDIT_ACTION_LABELS[a]))
        ]
    assert not same and not english, (same, english)


@pytest.mark.django_db
def test_the_audit_log_names_actions_as_people_read_them(admin_client, admin_user):
    audit_record(actor=admin_user, action="points.adjusted", target_label="林晓雨")
    audit_record(actor=admin_user, action="rules.published")
    audit_record(actor=None, action="campaign.launched", target_label="618")
    for lang, labels in (
        ("en", ["Points adjusted", "Loyalty rules published", "Campaign launched"]),
        ("zh-hans", ["调整积分", "发布会员规则", "启动营销活动"]),
    ):
        admin_client.cookies["django_language"] = lang
        html = admin_client.get("/console/audit/", HTTP_ACCEPT_LANGUAGE=lang).content.decode()
        cells = re.findall(r"<td>([^<]+)<div class=\"muted small\"><code>", html)
        options = re.findall(r'<option value="[a-z_.]+" >([^<]+)</option>', html)
        for label in labels:
            assert label in cells and label in options, (lang, label)
        assert "points.adjusted" not in cells + options
