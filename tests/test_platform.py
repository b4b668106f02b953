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
