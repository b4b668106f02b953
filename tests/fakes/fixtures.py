"""pytest fixtures that start a fake on a real socket and point the product's settings at it.

Import the ones a test module uses: ``from tests.fakes.fixtures import sms_gateway``."""

from __future__ import annotations

import pytest

from tests.fakes.sms_gateway import SmsGateway
from tests.fakes.smtp import SmtpFake
from tests.fakes.wecom import WecomFake

SMS_TOKEN = "gw-token"


@pytest.fixture
def sms_gateway(settings):
    """The fake gateway, with ``SCRM_SMS_BACKEND`` the HTTP gateway backend pointed at it."""
    gateway = SmsGateway(token=SMS_TOKEN).start()
    settings.SCRM_SMS_BACKEND = "accounts.sms.HttpGatewayBackend"
    settings.SCRM_SMS_GATEWAY_URL = gateway.url
    settings.SCRM_SMS_GATEWAY_TOKEN = SMS_TOKEN
    settings.SCRM_SMS_GATEWAY_SENDER = "SCRM"
    settings.SCRM_SMS_GATEWAY_TIMEOUT = 2.0
    yield gateway
    gateway.stop()


@pytest.fixture
def wecom_server(settings):
    """The fake WeCom API, with the product configured for it (corp id, secret, base URL)."""
    fake = WecomFake().start()
    settings.SCRM_WECOM_CORP_ID = fake.corp_id
    settings.SCRM_WECOM_SECRET = fake.secret
    settings.SCRM_WECOM_API_BASE = fake.base_url
    settings.SCRM_WECOM_TIMEOUT = 2.0
    yield fake
    fake.stop()


def smtp_mailers(fake: SmtpFake, *, username: str = "", password: str = "", timeout=2) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": "127.0.0.1",
                "port": fake.port,
                "username": username,
                "password": password,
                "timeout": timeout,
            },
        }
    }


@pytest.fixture
def smtp_server(settings):
    """A local aiosmtpd server, with ``MAILERS["default"]`` the SMTP backend pointed at it."""
    fake = SmtpFake().start()
    settings.MAILERS = smtp_mailers(fake)
    yield fake
    fake.stop()
