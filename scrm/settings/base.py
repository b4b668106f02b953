"""Settings shared by every environment, driven by environment variables.

Safe local defaults give the embedded demo (SQLite, a file-system Celery broker, a file cache);
``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from pathlib import Path

import environ
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)  # the demo's SQLite file, cache and file-system broker live here

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Local-only default; production.py refuses to start with it.
INSECURE_DEFAULT_SECRET_KEY = "django-insecure-scrm-local-development-only-key-do-not-deploy"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "allauth",
    "allauth.account",
    "scrm",
    "accounts",
    "members",
    "campaigns",
    "community",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "scrm.middleware.RequestGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "scrm.middleware.PrivatePagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "scrm.urls"
WSGI_APPLICATION = "scrm.wsgi.application"
ASGI_APPLICATION = "scrm.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "scrm.context_processors.shell",
            ],
            "builtins": ["django.templatetags.i18n"],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'scrm.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded demo runs a web server, a worker and a scheduler on one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker --------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="scrm"),
        }
    }
else:
    # A cache shared by the web server, worker and scheduler processes of the demo, so that
    # rate limits and one-time codes hold across processes without a server.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
# A worker that dies mid-task loses nothing: a message is acknowledged only after its task ran
# (acks late) and is put back at once when the process running it dies (reject on worker lost);
# each task is written so that a second delivery does no harm (an import claims its job, the
# relays keep their place in the database). When the whole worker dies, Redis puts back what it
# had taken after the visibility timeout. That must be longer than the longest job, or a running
# job gets a second delivery (turned away, but a worker sits on it). The longest job is an import
# of MAX_ROWS (500,000) rows, about 2.5 minutes on the bench machine: its task is stopped at 30
# minutes (the import fails, rolls back and may be applied again), killed at 35, and Redis
# redelivers after 45. An import whose worker died is failed by the reaper (members.tasks.
# imports_fail_abandoned, every minute) long before that; the late delivery then does nothing.
SCRM_IMPORT_SOFT_TIME_LIMIT = 30 * 60
SCRM_IMPORT_TIME_LIMIT = SCRM_IMPORT_SOFT_TIME_LIMIT + 5 * 60
SCRM_BROKER_VISIBILITY_TIMEOUT = SCRM_IMPORT_TIME_LIMIT + 10 * 60
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {"visibility_timeout": SCRM_BROKER_VISIBILITY_TIMEOUT}
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = str(VAR_DIR / "celery-queue")
    for _folder in ("celery-queue", "celery-processed", "celery-control"):
        (VAR_DIR / _folder).mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue_dir,
        "data_folder_out": _queue_dir,
        "processed_folder": str(VAR_DIR / "celery-processed"),
        # The exchange tables (kombu writes them to ./control by default): under var/ too.
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "accounts.backends.CachedPermissionsBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "phone", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 5
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = 300
ACCOUNT_PHONE_VERIFICATION_ENABLED = False
ACCOUNT_PREVENT_ENUMERATION = True
# No mail to addresses that have no account (a reset form must not mail strangers).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_FORMS = {
    "login": "accounts.forms.StaffLoginForm",
    "request_login_code": "accounts.forms.PhoneLoginCodeForm",
    "confirm_login_code": "accounts.forms.ConfirmSignInCodeForm",
}
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    # One code per phone per minute: asking twice in a row is told to wait.
    "request_login_code": "20/m/ip,1/m/key",
}
# After this many wrong codes for one phone, code sign-in for it is locked for SCRM_CODE_LOCK_SECONDS.
SCRM_CODE_LOCK_SECONDS = env.int("SCRM_CODE_LOCK_SECONDS", default=15 * 60)

# --- Email ------------------------------------------------------------------------------------
# Staff password resets. EMAIL_URL: smtp://user:password@smtp.example.com:587/?tls=True (or
# smtp+ssl://...:465). Without it the demo prints mails to the terminal, and production says on
# the reset page that an admin resets passwords.
EMAIL_URL = env.str("EMAIL_URL", default="")
if EMAIL_URL:
    _mail = env.email_url("EMAIL_URL")
    MAILERS = {
        "default": {
            "BACKEND": _mail["EMAIL_BACKEND"],
            "OPTIONS": {
                "host": _mail.get("EMAIL_HOST"),
                "port": _mail.get("EMAIL_PORT"),
                "username": _mail.get("EMAIL_HOST_USER"),
                "password": _mail.get("EMAIL_HOST_PASSWORD"),
                "use_tls": bool(_mail.get("EMAIL_USE_TLS")),
                "use_ssl": bool(_mail.get("EMAIL_USE_SSL")),
                "timeout": env.int("EMAIL_TIMEOUT", default=10),
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="SCRM <noreply@scrm.example>")
SCRM_EMAIL_CONFIGURED = bool(EMAIL_URL)

# --- SMS --------------------------------------------------------------------------------------
SCRM_SMS_BACKEND = env.str("SCRM_SMS_BACKEND", default="accounts.sms.ConsoleBackend")
SCRM_SMS_GATEWAY_URL = env.str("SCRM_SMS_GATEWAY_URL", default="")
SCRM_SMS_GATEWAY_TOKEN = env.str("SCRM_SMS_GATEWAY_TOKEN", default="")
SCRM_SMS_GATEWAY_SENDER = env.str("SCRM_SMS_GATEWAY_SENDER", default="SCRM")
SCRM_SMS_GATEWAY_TIMEOUT = env.float("SCRM_SMS_GATEWAY_TIMEOUT", default=5.0)
# Demo convenience: show the last console SMS on the code page. Never on in production.
SCRM_SMS_SHOW_IN_PAGE = env.bool("SCRM_SMS_SHOW_IN_PAGE", default=False)

# Delivery receipts and replies the SMS gateway posts back authenticate with this token.
SCRM_SMS_CALLBACK_TOKEN = env.str("SCRM_SMS_CALLBACK_TOKEN", default="")

# --- Messages and webhooks (campaigns) ----------------------------------------------------------
# Where members reach the product: links in messages ({portal_link}, unsubscribe) start here.
SCRM_PUBLIC_URL = env.str("SCRM_PUBLIC_URL", default="http://localhost:8000").rstrip("/")
# A relay holds the rows it claimed this long; a relay killed mid-batch leaves them to another.
SCRM_OUTBOX_LEASE_SECONDS = env.int("SCRM_OUTBOX_LEASE_SECONDS", default=120)
SCRM_MARKETING_FROM_EMAIL = env.str("SCRM_MARKETING_FROM_EMAIL", default=DEFAULT_FROM_EMAIL)
# WeCom (企业微信) customer contact: without a corp id and secret, WeCom messages become to-dos of
# the member's owner with the text to copy.
SCRM_WECOM_CORP_ID = env.str("SCRM_WECOM_CORP_ID", default="")
SCRM_WECOM_SECRET = env.str("SCRM_WECOM_SECRET", default="")
SCRM_WECOM_API_BASE = env.str("SCRM_WECOM_API_BASE", default="https://qyapi.weixin.qq.com")
SCRM_WECOM_TIMEOUT = env.float("SCRM_WECOM_TIMEOUT", default=5.0)
SCRM_WEBHOOK_TIMEOUT = env.float("SCRM_WEBHOOK_TIMEOUT", default=5.0)
# Webhook URLs are https; plain http only to this machine (a local receiver), and only when this
# is on (or DEBUG).
SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK = env.bool("SCRM_WEBHOOK_ALLOW_HTTP_LOOPBACK", default=False)

# --- I18N -------------------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
# ISO first in every language's input formats, so date inputs read what the server writes.
FORMAT_MODULE_PATH = ["scrm.formats"]
USE_TZ = True

# --- Static -----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"

# --- Uploaded files -----------------------------------------------------------------------------
# Import files live on the local file system (MEDIA_ROOT) by default: enough for one machine. With
# STORAGE_BUCKET set they live in S3-compatible object storage (AWS S3, Aliyun OSS, Tencent COS,
# MinIO) through django-storages, so a worker on any machine reads the file the web server took.
STORAGE_BUCKET = env.str("STORAGE_BUCKET", default="")
if STORAGE_BUCKET:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": STORAGE_BUCKET,
            "endpoint_url": env.str("STORAGE_ENDPOINT_URL", default="") or None,
            "access_key": env.str("STORAGE_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("STORAGE_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("STORAGE_REGION", default="") or None,
            # "virtual" for Aliyun OSS and Tencent COS, "path" for MinIO.
            "addressing_style": env.str("STORAGE_ADDRESSING_STYLE", default="") or None,
            "signature_version": "s3v4",
            "location": env.str("STORAGE_PREFIX", default=""),
            "file_overwrite": False,
            "default_acl": None,  # the bucket's own (keep it private)
            "querystring_auth": True,
        },
    }
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.IsIntegrationOrStaff"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["scrm.api_parsers.LimitedJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "scrm.api_exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SCRM_API_DEFAULT_RATE_PER_MINUTE = env.int("SCRM_API_DEFAULT_RATE_PER_MINUTE", default=6000)
# A batch of 1,000 orders with a few lines each fits well inside this.
SCRM_API_MAX_BODY_BYTES = env.int("SCRM_API_MAX_BODY_BYTES", default=8 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = SCRM_API_MAX_BODY_BYTES
SPECTACULAR_SETTINGS = {
    "TITLE": "SCRM integration API",
    "DESCRIPTION": (
        "Members, orders, points, vouchers and tiers for POS, shops and mini-programs. Errors are"
        ' `{"error": {"code", "message", "fields"}}`; text may not contain NUL (U+0000): a 400'
        " naming the field."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Two "channel" fields: where a member came from, and a message's channel.
    "ENUM_NAME_OVERRIDES": {
        "MemberChannelEnum": "members.models.member.Member.Channel",
        "MessageChannelEnum": "campaigns.models.messages.Channel",
        "CampaignKindEnum": ["promotion", "value"],
        "CampaignStatusEnum": "campaigns.models.campaigns.Campaign.Status",
    },
    # Served from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "scrm.api_schema.error_responses",
        "members.api.schema.schema_rules",
    ],
}

# --- Security defaults that hold everywhere ------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Sessions read from the cache (Redis in production), written through to the database.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the body attribute, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Content-Security-Policy --------------------------------------------------------------------
# Every page, the admin and the API docs: scripts and styles only from our own static files, no
# inline code (behaviour lives in static/js, styles in static/css; htmx runs without eval, see
# _base.html's htmx-config). 'wasm-unsafe-eval' lets the counter's QR scanner compile its
# WebAssembly decoder (static/vendor/barcode-detector); it allows no JavaScript eval.
# tests/test_headers.py keeps the templates free of inline scripts, handlers and styles.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.WASM_UNSAFE_EVAL],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"client_errors": {"()": "scrm.logging.ClientErrorsWithoutTraceback"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Django's own handlers print django.* records a second time: only ours, once.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
