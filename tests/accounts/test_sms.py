"""The HTTP SMS gateway backend against a local fake gateway speaking the documented protocol."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.test import override_settings

from accounts import sms


class FakeGateway:
    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.status = status
        self.body = body if body is not None else {"id": "msg-42"}
        self.requests: list[dict] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                gateway.requests.append(
                    {
                        "auth": self.headers["Authorization"],
                        "type": self.headers["Content-Type"],
                        "json": json.loads(self.rfile.read(length)),
                    }
                )
                payload = json.dumps(gateway.body).encode()
                self.send_response(gateway.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/send"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    fake = FakeGateway()
    yield fake
    fake.close()


def _settings(url):
    return override_settings(
        SCRM_SMS_BACKEND="accounts.sms.HttpGatewayBackend",
        SCRM_SMS_GATEWAY_URL=url,
        SCRM_SMS_GATEWAY_TOKEN="tok-123",
        SCRM_SMS_GATEWAY_SENDER="SCRM",
    )


def test_gateway_receives_the_documented_request(gateway):
    with _settings(gateway.url):
        sent = sms.send_sms(to="+8613800138000", text="你的验证码是 123456")
    assert sent.gateway_id == "msg-42"
    [req] = gateway.requests
    assert req["auth"] == "Bearer tok-123"
    assert req["type"].startswith("application/json")
    assert req["json"]["to"] == "+8613800138000" and req["json"]["text"] == "你的验证码是 123456"
    assert req["json"]["sender"] == "SCRM" and len(req["json"]["idempotency_key"]) == 32


@pytest.mark.parametrize(
    ("status", "body"), [(500, {"error": "down"}), (401, {}), (200, {"ok": True})]
)
def test_gateway_failures_raise_sms_error(status, body):
    fake = FakeGateway(status=status, body=body)
    try:
        with _settings(fake.url), pytest.raises(sms.SmsError):
            sms.send_sms(to="+8613800138000", text="x")
    finally:
        fake.close()


def test_unreachable_gateway_raises_sms_error():
    with _settings("http://127.0.0.1:9/send"), pytest.raises(sms.SmsError):
        sms.send_sms(to="+8613800138000", text="x")


def test_non_http_gateway_url_is_refused():
    with _settings("file:///etc/passwd"), pytest.raises(sms.SmsError):
        sms.send_sms(to="+8613800138000", text="x")


@pytest.mark.django_db
def test_member_code_goes_through_the_configured_gateway(gateway, member):
    from django.test import Client

    with _settings(gateway.url):
        response = Client().post("/accounts/login/code/", {"phone": "13800138000"})
    assert response.status_code == 302
    assert gateway.requests[0]["json"]["to"] == "+8613800138000"
