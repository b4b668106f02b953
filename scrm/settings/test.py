"""The test suite: PostgreSQL and Redis from DATABASE_URL / REDIS_URL (``make test`` provides them)."""

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SCRM_SMS_BACKEND = "accounts.sms.MemoryBackend"
SCRM_SMS_SHOW_IN_PAGE = False
WHITENOISE_AUTOREFRESH = True
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
SCRM_EMAIL_CONFIGURED = True
if REDIS_URL:
    # The broker gets the next database number: tests flush the cache database between tests.
    from urllib.parse import urlsplit, urlunsplit

    _url = urlsplit(REDIS_URL)
    _db = int((_url.path or "/0").strip("/") or 0)
    CELERY_BROKER_URL = urlunsplit(_url._replace(path=f"/{(_db + 1) % 16}"))
    CELERY_RESULT_BACKEND = CELERY_BROKER_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "scrm-test",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # One test database per database named (two checkouts or runs side by side do not collide).
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" and not env.bool(
    "SCRM_TEST_ALLOW_SQLITE", default=False
):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "The suite runs on PostgreSQL: run `make test`, or set DATABASE_URL and REDIS_URL."
    )
