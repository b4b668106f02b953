"""Production: PostgreSQL, Redis, HTTPS. Refuses to start without real secrets and hosts, or with an
SMS backend that logs sign-in codes."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    DATABASES,
    DEFAULT_STORAGE,
    EMAIL_URL,
    INSECURE_DEFAULT_SECRET_KEY,
    REDIS_URL,
    SCRM_SMS_BACKEND,
    SCRM_SMS_GATEWAY_URL,
    env,
)

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY or SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 50 characters."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must list the host names this site serves.")
if not env.str("DATABASE_URL", default="") or "postgresql" not in DATABASES["default"]["ENGINE"]:
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL in production.")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL must be set: cache, rate limits and Celery use Redis.")

DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
STORAGES = {
    "default": DEFAULT_STORAGE,  # local disk, or object storage with STORAGE_BUCKET
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
SCRM_SMS_SHOW_IN_PAGE = False
# The console backend writes every sign-in code to the log: anyone who reads the log could sign in
# as any member. Only a deliberate choice (a staging site without a gateway) runs with it.
SCRM_ALLOW_CONSOLE_SMS = env.bool("SCRM_ALLOW_CONSOLE_SMS", default=False)
if SCRM_SMS_BACKEND == "accounts.sms.ConsoleBackend" and not SCRM_ALLOW_CONSOLE_SMS:
    raise ImproperlyConfigured(
        "SCRM_SMS_BACKEND is accounts.sms.ConsoleBackend, which logs every sign-in code: set "
        "SCRM_SMS_BACKEND=accounts.sms.HttpGatewayBackend with SCRM_SMS_GATEWAY_URL and "
        "SCRM_SMS_GATEWAY_TOKEN, or SCRM_ALLOW_CONSOLE_SMS=true to run with it anyway."
    )
if SCRM_SMS_BACKEND == "accounts.sms.HttpGatewayBackend" and not SCRM_SMS_GATEWAY_URL.startswith(
    ("http://", "https://")
):
    raise ImproperlyConfigured("SCRM_SMS_GATEWAY_URL must be the SMS gateway's http(s) URL.")
if not EMAIL_URL:
    # No mail server: nothing is mailed (the reset page says an admin resets passwords); SMTP on
    # this host is only the fallback a later channel would find and report as unreachable.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.smtp.EmailBackend"}}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
