"""The test suite: PostgreSQL and Redis from DATABASE_URL / REDIS_URL (``make test`` provides them)."""

from .base import *  # noqa: F403
from .base import DATABASES, REDIS_URL

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SCRM_SMS_BACKEND = "accounts.sms.MemoryBackend"
SCRM_SMS_SHOW_IN_PAGE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "scrm-test",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
DATABASES["default"]["TEST"] = {"NAME": "test_scrm"}
