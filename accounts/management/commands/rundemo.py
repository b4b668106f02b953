"""Serve the embedded demo: the web server, a Celery worker and the scheduler, stopped together."""

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.demo import DEMO_LOGINS, demo_password


class Command(BaseCommand):
    help = "Run the web server with a Celery worker and beat on the embedded broker."

    def add_arguments(self, parser):
        parser.add_argument("--port", default=os.environ.get("PORT", "8000"))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-worker", action="store_true", help="Serve pages only")

    def handle(self, *args, port: str, host: str, no_worker: bool, **options):
        children: list[subprocess.Popen] = []
        # -q: no banners, so the sign-ins printed below stay on screen.
        celery = [sys.executable, "-m", "celery", "-q", "-A", "scrm"]
        if not no_worker:
            var = settings.VAR_DIR
            children.append(
                subprocess.Popen(
                    [*celery, "worker", "--pool=solo", "--loglevel=WARNING", "-n", "demo@%h"]
                )
            )
            children.append(
                subprocess.Popen(
                    [
                        *celery,
                        "beat",
                        "--loglevel=WARNING",
                        "--schedule",
                        str(var / "celerybeat-schedule"),
                    ]
                )
            )
        base = f"http://{host}:{port}"
        pw = demo_password()
        lines = [
            "",
            "=" * 72,
            f"  SCRM is running at {base}/",
            "",
            f"  Staff console  {base}/console/   operator: {DEMO_LOGINS['operator']} / {pw}",
            f"                                      admin:    {DEMO_LOGINS['admin']} / {pw}",
            f"  Clerk counter  {base}/counter/   clerk:    {DEMO_LOGINS['clerk']} / {pw}",
            f"  Member portal  {base}/portal/    phone:    {DEMO_LOGINS['member_phone']}",
            "                 (the sign-in code is shown on the page and printed here)",
            f"  API docs       {base}/api/v1/docs/    health: {base}/healthz",
            "",
            "  Background work: a Celery worker and scheduler on the embedded broker."
            if children
            else "",
            "  Press Ctrl+C to stop everything.",
            "=" * 72,
            "",
        ]
        self.stdout.write("\n".join(lines))
        try:
            call_command("runserver", f"{host}:{port}", use_reloader=False)
        finally:
            for child in children:
                child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
