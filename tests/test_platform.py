"""Health, settings, Celery, error pages and languages: the platform under every feature."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_healthz_reports_database_cache_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["cache"]["backend"] == "RedisCache"
    assert body["checks"]["broker"]["transport"] == "redis"


@pytest.mark.django_db
def test_healthz_fails_when_the_broker_is_unreachable(client):
    from scrm.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    try:
        with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0"):
            response = client.get("/healthz")
    finally:
        app.conf.broker_url = original
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "error"


def test_a_real_worker_runs_the_heartbeat_through_redis():
    from celery.contrib.testing.worker import start_worker

    from scrm.celery import app
    from scrm.tasks import HEARTBEAT_CACHE_KEY, heartbeat

    assert app.conf.broker_url.startswith("redis://")
    cache.delete(HEARTBEAT_CACHE_KEY)
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        result = heartbeat.apply_async(ignore_result=False)
        stamp = result.get(timeout=20)
    assert cache.get(HEARTBEAT_CACHE_KEY) == stamp


def test_periodic_jobs_are_declared_in_code():
    from scrm.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"scrm.tasks.heartbeat", "accounts.tasks.sessions_clear_expired"} <= tasks
    app.loader.import_default_modules()
    assert tasks <= set(app.tasks)


def _run_production(env_overrides: dict, *args: str) -> subprocess.CompletedProcess:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their own process; a deployment must not.
    dropped = {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update({"DJANGO_SETTINGS_MODULE": "scrm.settings.production", **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


GOOD_ENV = {
    "SECRET_KEY": "x9!" + "k3Lm" * 20,
    "ALLOWED_HOSTS": "scrm.example.com",
    "SCRM_SMS_BACKEND": "accounts.sms.HttpGatewayBackend",
    "SCRM_SMS_GATEWAY_URL": "https://sms-gateway.example.com/send",
    "SCRM_SMS_GATEWAY_TOKEN": "gateway-token",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL"])
def test_production_refuses_to_start_without_its_essentials(missing):
    env = {**GOOD_ENV, "DATABASE_URL": os.environ["DATABASE_URL"]}
    env.pop(missing)
    result = _run_production(env, "check")
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_the_development_secret_key():
    env = {
        **GOOD_ENV,
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "SECRET_KEY": "django-insecure-scrm-local-development-only-key-do-not-deploy",
    }
    assert _run_production(env, "check").returncode != 0


def test_production_refuses_the_console_sms_backend_unless_allowed():
    """The console backend logs every sign-in code: whoever reads the log could sign in as any
    member. Production refuses it (the default) unless SCRM_ALLOW_CONSOLE_SMS says so."""
    env = {**GOOD_ENV, "DATABASE_URL": os.environ["DATABASE_URL"]}
    for var in ("SCRM_SMS_BACKEND", "SCRM_SMS_GATEWAY_URL", "SCRM_SMS_GATEWAY_TOKEN"):
        env.pop(var)
    for backend in (None, "accounts.sms.ConsoleBackend"):  # unset: the console is the default
        run_env = env if backend is None else {**env, "SCRM_SMS_BACKEND": backend}
        refused = _run_production(run_env, "check")
        assert refused.returncode != 0
        assert "ConsoleBackend" in refused.stderr and "SCRM_ALLOW_CONSOLE_SMS" in refused.stderr
    assert _run_production({**env, "SCRM_ALLOW_CONSOLE_SMS": "false"}, "check").returncode != 0
    allowed = _run_production({**env, "SCRM_ALLOW_CONSOLE_SMS": "true"}, "check")
    assert allowed.returncode == 0, allowed.stderr[-2000:]
    gateway = _run_production({**GOOD_ENV, "DATABASE_URL": os.environ["DATABASE_URL"]}, "check")
    assert gateway.returncode == 0, gateway.stderr[-2000:]


def test_production_refuses_the_gateway_backend_without_its_url():
    env = {**GOOD_ENV, "DATABASE_URL": os.environ["DATABASE_URL"], "SCRM_SMS_GATEWAY_URL": ""}
    result = _run_production(env, "check")
    assert result.returncode != 0 and "SCRM_SMS_GATEWAY_URL" in result.stderr


def test_production_passes_the_deploy_check():
    env = {**GOOD_ENV, "DATABASE_URL": os.environ["DATABASE_URL"]}
    result = _run_production(env, "check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_friendly_404_in_each_language():
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and "找不到该页面" in page.content.decode()
    client.cookies["django_language"] = "en"
    assert "find that page" in client.get("/no/such/page/").content.decode()


@pytest.mark.django_db
def test_friendly_403_page(member_client):
    page = member_client.get("/console/")
    assert page.status_code == 403 and "403" in page.content.decode()


def test_500_page_renders_without_a_database():
    from django.test import RequestFactory

    from scrm.views import error_500

    response = error_500(RequestFactory().get("/"))
    assert response.status_code == 500 and "抱歉" in response.content.decode()


@pytest.mark.django_db
def test_language_switcher_changes_the_language(operator_client):
    operator_client.post("/i18n/setlang/", {"language": "en", "next": "/console/"})
    assert "Members" in operator_client.get("/console/").content.decode()
    operator_client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/console/"})
    assert "会员" in operator_client.get("/console/").content.decode()


def test_chinese_and_english_catalogs_are_complete():
    import polib

    for lang in ("zh_Hans", "en"):
        po = polib.pofile(str(ROOT / "locale" / lang / "LC_MESSAGES" / "django.po"))
        assert po.untranslated_entries() == [], lang
        assert po.fuzzy_entries() == [], lang
        assert len(po) > 200


@pytest.mark.parametrize("module", ["scrm.wsgi", "scrm.asgi", "scrm.celery"])
def test_servers_and_workers_default_to_production_settings(module):
    """A deployment that forgets DJANGO_SETTINGS_MODULE must not serve with DEBUG on: the WSGI and
    ASGI entry points and the Celery app load production settings, which refuse to start without
    their secrets, and run with DEBUG off when they have them."""
    script = (
        f"import importlib, django.conf; importlib.import_module({module!r});"
        "from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
    )
    base = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    bare = {k: v for k, v in base.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS"}}
    refused = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=bare, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
    ok = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, **GOOD_ENV, "DEBUG": "true"},
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert ok.stdout.split() == ["scrm.settings.production", "False"]


def test_the_demo_broker_writes_nothing_into_the_working_directory(tmp_path):
    """The file-system broker of the demo wrote a control/ folder (its exchange tables) into
    whatever directory the worker started in; everything it keeps now lives under var/."""
    script = (
        "import django; django.setup();"
        "from django.conf import settings;"
        "from scrm.celery import app;"
        "from scrm.tasks import heartbeat;"
        "heartbeat.apply_async();"
        "app.control.broadcast('ping', reply=False);"
        "print(settings.CELERY_BROKER_TRANSPORT_OPTIONS['control_folder'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "scrm.settings.local", "PYTHONPATH": str(ROOT)})
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
    control = Path(result.stdout.strip())
    assert control.is_relative_to(ROOT / "var") and any(control.glob("*.exchange"))
    assert not (ROOT / "control").exists()


@pytest.mark.django_db
def test_uploads_go_to_s3_compatible_object_storage_when_a_bucket_is_configured(tmp_path, settings):
    """With STORAGE_BUCKET (and an endpoint, as for Aliyun OSS, Tencent COS or MinIO) an import file
    goes to the bucket, where a worker on another machine finds it; nothing is written to the
    local disk. The bucket is a real S3 protocol server on a local socket (moto)."""
    import socket

    import boto3
    from moto.server import ThreadedMotoServer

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        keys = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **keys)
        s3.create_bucket(Bucket="scrm-uploads")
        env = {
            "STORAGE_BUCKET": "scrm-uploads",
            "STORAGE_ENDPOINT_URL": endpoint,
            "STORAGE_ACCESS_KEY_ID": "test-key",
            "STORAGE_SECRET_ACCESS_KEY": "test-secret",
            "STORAGE_REGION": "us-east-1",
            "STORAGE_ADDRESSING_STYLE": "path",
            "STORAGE_PREFIX": "scrm",
        }
        storages = _storages_from(env)
        settings.STORAGES = storages
        settings.MEDIA_ROOT = tmp_path / "media"
        _import_through_storage()
        objects = s3.list_objects_v2(Bucket="scrm-uploads").get("Contents", [])
        assert [o["Key"] for o in objects if o["Key"].endswith(".csv")]
        assert all(o["Key"].startswith("scrm/imports/") for o in objects)
        assert not (tmp_path / "media").exists()
    finally:
        server.stop()


def _storages_from(env: dict) -> dict:
    """STORAGES as scrm.settings.base builds it from these variables (in a fresh interpreter)."""
    import json

    script = (
        "import json, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'scrm.settings.local');"
        "from django.conf import settings; print(json.dumps(settings.STORAGES))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "scrm.settings.local"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    storages = json.loads(result.stdout)
    assert storages["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    return storages


def _import_through_storage() -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from members.models import ImportJob
    from members.services.imports import import_create, import_validate

    job = import_create(
        kind=ImportJob.Kind.MEMBERS,
        upload=SimpleUploadedFile("members.csv", b"phone,name\n13800138000,Lin\n"),
        actor=None,
    )
    assert job.file.storage.__class__.__name__ == "S3Storage"
    job = import_validate(job_id=job.pk)  # reads the file back from the bucket
    assert job.status == ImportJob.Status.READY and job.total_rows == 1


DEMO_SCRIPT = """
import django, logging
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
print("DEBUG", settings.DEBUG)
client = Client(raise_request_exception=False)
print("404", client.get("/no-such-page/").status_code)
print("401", client.get("/api/v1/members/").status_code)
# A real PermissionDenied: a clerk opening a page of the admin's settings.
from django.core.management import call_command
for app in ("accounts", "sessions"):
    call_command("migrate", app, verbosity=0)
from accounts import roles
from accounts.models import Store
from accounts.services import staff_save
roles.ensure_role_groups()
store = Store.objects.create(code="SH01", name="上海店")
clerk = staff_save(
    email="clerk@example.com", name="Clerk", role=roles.CLERK, stores=[store],
    password="correct-horse-battery-staple", actor=None,
)
client.force_login(clerk)
print("403", client.get("/console/settings/stores/").status_code)
"""


def _demo_run(extra_env: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG")}
    env.update({"DJANGO_SETTINGS_MODULE": "scrm.settings.local", "DATABASE_URL": "sqlite://"})
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "-c", DEMO_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_the_demo_shows_the_products_own_error_pages():
    run = _demo_run({})
    assert run.returncode == 0, run.stderr
    assert "DEBUG False" in run.stdout  # Django's debug pages are for DEBUG=true only


def test_a_refused_request_is_logged_once_without_a_traceback():
    """In the terminal, with DEBUG on or off: one line per 4xx, no traceback, never twice."""
    for debug in ("false", "true"):
        run = _demo_run({"DEBUG": debug})
        assert run.returncode == 0, run.stderr
        log = run.stderr
        assert "404 404" in run.stdout and "403 403" in run.stdout, run.stdout
        assert log.count("Not Found: /no-such-page/") == 1, log
        assert log.count("Forbidden (Permission denied): /console/settings/stores/") == 1, log
        assert "Traceback" not in log and "PermissionDenied" not in log, log


def test_a_console_sms_is_printed_once(capsys, caplog):
    from accounts.sms import ConsoleBackend, SmsMessage

    ConsoleBackend().send(SmsMessage(to="+8613800138000", text="验证码 123456"))
    out = capsys.readouterr()
    printed = out.out + out.err + caplog.text
    assert printed.count("123456") == 1
