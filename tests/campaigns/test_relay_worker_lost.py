"""A relay worker killed with SIGKILL in the middle of a batch, then another started: every
message reaches the SMS gateway (the fake, in a process of its own on a real socket) exactly once.

The killed worker had claimed its batch and was sending it one by one; its rows stay held for the
lease, then the next worker claims them again. The one message that was at the gateway when the
worker died is sent again with the same idempotency key, which the gateway dedupes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pytest
from django.db import connection

from campaigns.models import Message, MessageAttempt
from campaigns.services.outbox import message_queue
from tests.factories import MemberFactory

ROOT = Path(__file__).resolve().parent.parent.parent
MESSAGES = 240
BATCH = 40
SEND_DELAY = 0.02  # seconds the worker waits before each send, to be killed mid-batch
LEASE = 2  # seconds a killed worker's rows stay held

WORKER = """
import os, time, django
django.setup()
from django.conf import settings
settings.SCRM_SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
settings.SCRM_SMS_GATEWAY_URL = os.environ["RL_GATEWAY"]
settings.SCRM_SMS_GATEWAY_TOKEN = "test-token"
settings.SCRM_OUTBOX_LEASE_SECONDS = int(os.environ["RL_LEASE"])
from campaigns.channels import sms
_send = sms.SmsAdapter.send
def slow_send(self, message, member):
    time.sleep(float(os.environ["RL_DELAY"]))
    return _send(self, message, member)
sms.SmsAdapter.send = slow_send
from campaigns.services.outbox import outbox_relay_batch
print("ready", flush=True)
while True:
    if not outbox_relay_batch(limit=int(os.environ["RL_BATCH"])):
        time.sleep(0.2)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def gateway(tmp_path):
    port = _free_port()
    proc = Proc(
        [
            sys.executable,
            "-m",
            "tests.fakes.sms_gateway",
            "--port",
            str(port),
            "--token",
            "test-token",
        ],
        dict(os.environ),
        tmp_path / "gateway.log",
    )
    base = f"http://127.0.0.1:{port}"

    def count() -> dict:
        with urlopen(f"{base}/_count", timeout=5) as resp:
            return json.loads(resp.read())

    def up() -> bool:
        try:
            count()
            return True
        except OSError:
            assert proc.proc.poll() is None, proc.text()
            return False

    _wait(up, "the fake gateway")
    yield base, count
    proc.kill()


@pytest.mark.django_db(transaction=True)
def test_a_relay_killed_mid_batch_and_another_started_send_every_message_once(gateway, tmp_path):
    base, count = gateway
    for i in range(MESSAGES):
        message_queue(
            member=MemberFactory(),
            channel="sms",
            kind="service",
            text=f"您的订单 {i} 已发货",
            source_type="system",
            source_id=f"shipped-{i}",
        )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_SETTINGS_MODULE": "scrm.settings.test",
        "RL_GATEWAY": f"{base}/send",
        "RL_LEASE": str(LEASE),
        "RL_DELAY": str(SEND_DELAY),
        "RL_BATCH": str(BATCH),
    }
    first = Proc([sys.executable, "-c", WORKER], env, tmp_path / "first.log")
    try:
        # In the middle of its second batch: some sent, some claimed and waiting, some queued.
        _wait(lambda: count()["unique"] >= BATCH + BATCH // 2, "the first sends")
        first.kill()
    finally:
        first.kill()
    held = Message.objects.filter(status="queued", claimed_until__isnull=False).count()
    assert 0 < held <= BATCH, "the kill landed mid-batch"
    assert count()["unique"] < MESSAGES

    second = Proc([sys.executable, "-c", WORKER], env, tmp_path / "second.log")
    try:
        _wait(
            lambda: not Message.objects.exclude(status="sent").exists(),
            "every message sent",
            timeout=90,
        )
    finally:
        second.kill()

    seen = count()
    assert seen["unique"] == MESSAGES, seen  # every message reached the gateway, once
    assert seen["calls"] - seen["unique"] <= 1, seen  # at most the one in flight, deduped
    assert Message.objects.filter(status="sent", claimed_until__isnull=True).count() == MESSAGES
    assert not Message.objects.filter(provider_id="").exists()
    # The dead worker's held rows were claimed again after the lease, not before: one attempt
    # each was recorded, and the in-flight message's second call is its only second attempt.
    assert MessageAttempt.objects.count() == MESSAGES
