"""BankSight settings: one module, driven by the environment.

DJANGO_ENV selects the profile: `development` (default), `test` or `production`.
Production has no defaults for secrets or service URLs: startup fails without them.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"

env = environ.Env()
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be development, test or production: {DJANGO_ENV}")
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"

DEBUG = env.bool("DJANGO_DEBUG", default=DJANGO_ENV == "development")


def _development_secret_key() -> str:
    # Kept under .var/ so every process of this checkout signs with the same key.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _development_secret_key()

ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- Services -------------------------------------------------------------------------

# DATABASE_URL is the application's role: it owns nothing and may only read and add to the
# audit trail. DATABASE_OWNER_URL is the role that owns the schema: `migrate` and `flush`
# (and the test database's set-up) connect as it (banksight/dbroles.py). Only the process
# that migrates needs it.
DATABASE_URL = env.str("DATABASE_URL", default="")
DATABASE_OWNER_URL = env.str("DATABASE_OWNER_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
if not (DATABASE_URL and REDIS_URL):
    if PRODUCTION:
        raise ImproperlyConfigured("DATABASE_URL and REDIS_URL are required in production.")
    import atexit

    from banksight import localservices

    if TESTING:
        # Each test run gets servers of its own, so runs side by side never collide.
        _profile, _services = localservices.ensure_private("test")
        atexit.register(localservices.stop, _profile, remove=True)
    else:
        _services, _owned = localservices.ensure("dev")
        if _owned:
            atexit.register(localservices.stop, "dev")
    if not DATABASE_URL:
        DATABASE_URL = _services.database_url
        DATABASE_OWNER_URL = DATABASE_OWNER_URL or _services.owner_database_url
    REDIS_URL = REDIS_URL or _services.redis_url

DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"].update(
    {
        "ATOMIC_REQUESTS": False,  # services open their own transactions
        "CONN_MAX_AGE": 0,  # connections are reused through the pool below
        # The pool checks a connection before handing it out (one empty query): after a
        # PostgreSQL restart no request gets a dead connection from before it.
        "CONN_HEALTH_CHECKS": True,
    }
)
# PostgreSQL down: a request fails within the pool timeout (503) instead of hanging.
# libpq's connect_timeout is whole seconds, at least 2.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2)
)
# psycopg's pool: under ASGI a fresh connection per request would cost more than the query.
DATABASES["default"]["OPTIONS"]["pool"] = {
    "min_size": env.int("DATABASE_POOL_MIN", default=1),
    "max_size": env.int("DATABASE_POOL_MAX", default=20),
    "timeout": env.float("DATABASE_POOL_TIMEOUT", default=1.5),
    # A failed attempt to add a connection is retried with backoff for this long, and
    # no other is started meanwhile: kept short, a request after PostgreSQL comes back
    # gets a new connection within half a second (psycopg's default, 300 s, with its
    # doubling backoff, kept a recovered database unused for as long as it had been down).
    "reconnect_timeout": env.float("DATABASE_POOL_RECONNECT_TIMEOUT", default=0.5),
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("BankSight runs on PostgreSQL only (DATABASE_URL=postgresql://...).")

_DATABASE_CREDENTIALS = ("USER", "PASSWORD", "HOST", "PORT")
DATABASE_APP = {key: DATABASES["default"][key] for key in _DATABASE_CREDENTIALS}
DATABASE_OWNER: dict = {}  # empty: one role for everything (only outside production)
DATABASE_APP_ROLE = ""  # the role the owner grants the application's privileges to
if DATABASE_OWNER_URL:
    _owner = env.db_url_config(DATABASE_OWNER_URL)
    if _owner["NAME"] != DATABASES["default"]["NAME"]:
        raise ImproperlyConfigured("DATABASE_OWNER_URL must name the database of DATABASE_URL.")
    if _owner["USER"] == DATABASES["default"]["USER"]:
        raise ImproperlyConfigured(
            "DATABASE_OWNER_URL and DATABASE_URL must log in as different roles: the "
            "application's role may not own the tables."
        )
    DATABASE_OWNER = {key: _owner[key] for key in _DATABASE_CREDENTIALS}
    DATABASE_APP_ROLE = DATABASES["default"]["USER"]


def redis_db_url(base_url: str, db: int) -> str:
    """The same Redis server, another logical database: each use flushes independently."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


REDIS_CACHE_URL = redis_db_url(REDIS_URL, 1)
REDIS_CHANNELS_URL = redis_db_url(REDIS_URL, 2)
CELERY_BROKER_URL = redis_db_url(REDIS_URL, 3)
CELERY_RESULT_BACKEND = redis_db_url(REDIS_URL, 4)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": "banksight",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            # Redis down or unreachable: fail within a second (503), never hang a request.
            "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
            "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=1.0),
        },
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 reads with a 5 s socket timeout by default: the same 5 s as
            # channels_redis's blocking BZPOPMIN, so an idle receive() sometimes raised
            # TimeoutError and tore down idle websockets and SSE streams. Wait longer.
            "hosts": [
                {
                    "address": REDIS_CHANNELS_URL,
                    "socket_timeout": 15,
                    "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
                }
            ],
            "prefix": "banksight",
        },
    }
}

# --- Applications ---------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "channels",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "auditlog",
    "csp",
    "apps.accounts",
    "apps.chat",
    "apps.fraud",
    "apps.kyc",
    "apps.compliance",
]

MIDDLEWARE = [
    "banksight.requestid.RequestIdMiddleware",
    "banksight.api.limits.ApiBodyLimitMiddleware",  # 413 before an API body is read
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Idle timeout and absolute lifetime of browser sessions (before the access checks).
    "apps.accounts.session_lifetime.SessionLifetimeMiddleware",
    "apps.accounts.access.StaffAreaMiddleware",
    "apps.accounts.access.LoginRequiredMiddleware",  # half-signed-in: to the code step
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "apps.compliance.audit.AuditContextMiddleware",
    "axes.middleware.AxesMiddleware",
]

# Benchmarks mount extra endpoints with bench.urls; nothing else changes this.
ROOT_URLCONF = env.str("DJANGO_ROOT_URLCONF", default="banksight.urls")
ASGI_APPLICATION = "banksight.asgi.application"
# Threads per ASGI server process that run sync views (banksight/http_handler.py); each
# holds at most one database connection from the pool (DATABASE_POOL_MAX) while it works.
# Views are mostly CPU under one GIL: two a process keep one thread on the CPU while the
# other waits for PostgreSQL; more only contend for the GIL (measured on 2 cores: accounts
# list 610-690 req/s with 2, 470-540 with 4, 370-450 with 1; transfers 142-164/s with 2,
# 129/s with 4).
HTTP_THREADS = env.int("HTTP_THREADS", default=2)
WSGI_APPLICATION = "banksight.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "accounts:login"
STAFF_LOGIN_URL = "staff:login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "apps.accounts.session_lifetime.session_timeout_context",
            ],
        },
    }
]

FORM_RENDERER = "banksight.forms.BankSightFormRenderer"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # must come first: it counts failures
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only

# Sessions live in the database with Redis in front; never in signed cookies.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# A signed-in session ends after this long without a request (apps.accounts.session_lifetime;
# the page warns SESSION_IDLE_WARNING_SECONDS before), and this long after signing in.
SESSION_IDLE_CUSTOMER_MINUTES = env.int("SESSION_IDLE_CUSTOMER_MINUTES", default=15)
SESSION_IDLE_STAFF_MINUTES = env.int("SESSION_IDLE_STAFF_MINUTES", default=30)
SESSION_IDLE_WARNING_SECONDS = env.int("SESSION_IDLE_WARNING_SECONDS", default=120)
SESSION_ABSOLUTE_HOURS = env.int("SESSION_ABSOLUTE_HOURS", default=12)
# The store keeps a session no longer than its absolute lifetime; the middleware ends it
# earlier when it is idle.
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_HOURS * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at every start when it is missing

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Security -------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Secure-sessionid"
    CSRF_COOKIE_NAME = "__Secure-csrftoken"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Login lockout (django-axes) ------------------------------------------------------

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Failures are counted per username at one client address (AXES_FAILURE_LIMIT), so an
# attacker elsewhere cannot lock the real person out, and per client address across all
# usernames (AXES_ADDRESS_FAILURE_LIMIT, higher: an office behind one NAT address), so
# one address trying many usernames (password spraying) is locked too. Both end after
# AXES_COOLOFF_TIME without failures; apps.accounts.lockout applies the two limits.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_HANDLER = "apps.accounts.lockout.BankSightAxesHandler"
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
# A successful sign-in clears that username's failures at that address, never the
# address's count for other usernames (see apps.accounts.lockout).
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.access.lockout_response"
AXES_IPWARE_PROXY_COUNT = env.int("DJANGO_PROXY_COUNT", default=0) or None
AXES_VERBOSE = False
# Failed sign-ins are kept (AccessFailureLog; successful ones are in AccessLog) so that a
# customer's Security page can list recent sign-ins, failures included.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT = 200

# --- Email and password reset ---------------------------------------------------------

# EMAIL_URL (django-environ: smtp+tls://user:password@host:587) configures SMTP. Without
# it, development and tests print mail to the console (the `make run` terminal), and
# production uses SMTP on EMAIL_HOST:EMAIL_PORT; never the console, whose output would put
# reset links into the logs.
_email = env.email_url_config(env.str("EMAIL_URL")) if env.str("EMAIL_URL", default="") else {}
EMAIL_BACKEND = _email.get("EMAIL_BACKEND") or env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = _email.get("EMAIL_HOST") or env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = _email.get("EMAIL_PORT") or env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="BankSight <no-reply@banksight.test>")
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# A reset link works once (Django's token changes with the password) and for this long.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT_SECONDS", default=60 * 60)
# Reset emails asked for, per email address and per client IP (rolling windows in Redis).
PASSWORD_RESET_RATE_PER_EMAIL = env.str("PASSWORD_RESET_RATE_PER_EMAIL", default="3/hour")
PASSWORD_RESET_RATE_PER_IP = env.str("PASSWORD_RESET_RATE_PER_IP", default="20/hour")

# --- Audit trail (django-auditlog) ----------------------------------------------------

AUDITLOG_INCLUDE_ALL_MODELS = False  # every model is registered explicitly: see compliance.audit
AUDITLOG_CID_GETTER = "banksight.requestid.get_request_id"
AUDITLOG_DISABLE_REMOTE_ADDR = False

# --- MFA (django-otp) -----------------------------------------------------------------

OTP_TOTP_ISSUER = "BankSight"
OTP_TOTP_THROTTLE_FACTOR = 1
# The admin never shows a member of staff's TOTP secret or QR code (django-otp's config and
# qrcode pages answer 403; they also answered 500 for an unknown device).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- API (DRF, simplejwt, drf-spectacular) --------------------------------------------

# Request bodies on /api/ paths (413 above it; banksight/api/limits.py) and JSON nesting
# (400 above it; also websocket frames). Form pages keep Django's DATA_UPLOAD_MAX_MEMORY_SIZE.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.AuditedJWTAuthentication",
        # Django's session, refused until the second factor passed where one is needed.
        "apps.accounts.authentication.MfaSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's, refusing over-deep nesting, bad encoding and oversized bodies with 400/413.
    "DEFAULT_PARSER_CLASSES": ["banksight.api.limits.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": [
        "banksight.api.throttling.AnonRateThrottle",
        "banksight.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="1000/hour"),
    },
    "NUM_PROXIES": env.int("DJANGO_PROXY_COUNT", default=0) or None,
    "EXCEPTION_HANDLER": "banksight.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default="") or SECRET_KEY,
    "UPDATE_LAST_LOGIN": True,
    # Each refresh returns a new refresh token; the one sent is blacklisted, so a copied
    # refresh token works once at most (a reused one gets a 401).
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "BankSight API",
    "DESCRIPTION": (
        "REST API of BankSight for the mobile app. Authenticate with "
        "`POST /api/v1/auth/token/` and send `Authorization: Bearer <access>`. "
        "Every error has the shape `{code, message, fields}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
}

# --- Celery ---------------------------------------------------------------------------

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 100
CELERY_RESULT_EXPIRES = 3600
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "clear-expired-sessions": {
        "task": "apps.accounts.tasks.sessions_clear_expired_task",
        "schedule": timedelta(hours=1),
    },
    "settle-external-payments": {
        "task": "apps.accounts.tasks.payments_settle_external_task",
        "schedule": timedelta(seconds=env.int("EXTERNAL_SETTLEMENT_INTERVAL_SECONDS", default=30)),
    },
    # Safety net: waiting conversations also get assigned when an event was missed.
    "assign-waiting-conversations": {
        "task": "apps.chat.tasks.handoff_assign_waiting_task",
        "schedule": timedelta(seconds=30),
    },
    "run-standing-orders": {
        "task": "apps.accounts.tasks.standing_orders_run_due_task",
        "schedule": timedelta(minutes=15),
    },
}
# A task whose worker died unacknowledged is handed out again after this long; it must be
# longer than any task runs (answers are idempotent per message, so a second run is safe).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Tests kill a worker mid-answer and wait for the redelivery: keep that wait short.
    "visibility_timeout": env.int(
        "CELERY_VISIBILITY_TIMEOUT_SECONDS", default=10 if TESTING else 300
    ),
    # Workers sweep for such tasks every interval (kombu's default throttle would make
    # it only every tenth sweep); one cheap ZRANGE in Redis each time.
    "unacked_restore_interval": 2 if TESTING else 10,
    "unacked_restore_throttle": 1,
    # Redis unreachable: publishing a task (on commit, in a request) fails within seconds.
    "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=1.0),
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- The assistant ------------------------------------------------------------------------

ASSISTANT_MAX_TOKENS = env.int("ASSISTANT_MAX_TOKENS", default=200)
# No backend producing a first token within this time sends the conversation to a person.
ASSISTANT_FIRST_TOKEN_DEADLINE_S = env.float("ASSISTANT_FIRST_TOKEN_DEADLINE_S", default=10.0)
# Circuit breaker per model backend: skipped for OPEN_SECONDS after FAILURES consecutive
# failures, then one request probes it.
ASSISTANT_BREAKER_FAILURES = env.int("ASSISTANT_BREAKER_FAILURES", default=3)
ASSISTANT_BREAKER_OPEN_SECONDS = env.float("ASSISTANT_BREAKER_OPEN_SECONDS", default=30.0)
# A benchmark of every enabled backend every N customer requests (0: only on demand).
ASSISTANT_BENCHMARK_EVERY_N_REQUESTS = env.int("ASSISTANT_BENCHMARK_EVERY_N_REQUESTS", default=500)

# --- Human handoff -------------------------------------------------------------------------

# First-response target per conversation priority (seconds): suspected fraud, vulnerable
# customer, everyone else.
HANDOFF_FIRST_RESPONSE_TARGET_SECONDS = {
    "1urgent": env.int("HANDOFF_TARGET_URGENT_SECONDS", default=120),
    "2high": env.int("HANDOFF_TARGET_HIGH_SECONDS", default=300),
    "3normal": env.int("HANDOFF_TARGET_NORMAL_SECONDS", default=900),
}

# --- Logging: JSON lines with the request id ------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "banksight.requestid.RequestIdLogFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}

# --- Field encryption (AES-256-GCM) for personal data ---------------------------------


def _development_field_keys() -> dict:
    import base64
    import json

    path = VAR_DIR / "field_keys.json"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(secrets.token_bytes(32)).decode()
        hash_key = base64.b64encode(secrets.token_bytes(32)).decode()
        path.write_text(json.dumps({"keys": f"dev1:{key}", "active": "dev1", "hash": hash_key}))
        path.chmod(0o600)
    return json.loads(path.read_text())


if PRODUCTION:
    FIELD_ENCRYPTION_KEYS = env.str("FIELD_ENCRYPTION_KEYS")
    FIELD_ENCRYPTION_KEY_ID = env.str("FIELD_ENCRYPTION_KEY_ID")
    FIELD_HASH_KEY = env.str("FIELD_HASH_KEY")
else:
    _field_keys = _development_field_keys()
    FIELD_ENCRYPTION_KEYS = env.str("FIELD_ENCRYPTION_KEYS", default=_field_keys["keys"])
    FIELD_ENCRYPTION_KEY_ID = env.str("FIELD_ENCRYPTION_KEY_ID", default=_field_keys["active"])
    FIELD_HASH_KEY = env.str("FIELD_HASH_KEY", default=_field_keys["hash"])

# --- Core banking ---------------------------------------------------------------------

# BankSight's own IBANs: GBkk BSIG <sort code> <account number>.
BANK_IBAN_COUNTRY = "GB"
BANK_CODE = "BSIG"
BANK_SORT_CODE = env.str("BANK_SORT_CODE", default="404040")
# Called before a payment completes; each returns allow, hold or reject (see payments.py).
PAYMENT_SCREENING_HOOKS = env.list(
    "PAYMENT_SCREENING_HOOKS", default=["apps.accounts.screening.allow_all"]
)

# --- Prometheus -------------------------------------------------------------------------

# Scrapers send "Authorization: Bearer <token>" to /metrics (banksight/metrics.py). Unset in
# production, /metrics answers 404; outside production verified staff may also read it.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if PRODUCTION and METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters.")

# --- Demo data ------------------------------------------------------------------------

DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="banksight-demo")

os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
