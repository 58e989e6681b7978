"""Django settings for the bridge.

Two ways to run, chosen by the environment alone:

* embedded default: SQLite in the data directory, tasks and the periodic
  schedule run inside ``manage.py runbridge``, an in-memory channel layer;
* growth: ``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (Celery broker,
  Channels layer and cache), with separate ``celery worker``/``celery beat``.

Every setting read here is documented in README.md.
"""

import os
from pathlib import Path

import dj_database_url

from bridgeadmin.datadir import data_dir, read_or_create_secret
from mailsync.schedule import BEAT_SCHEDULE


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


BASE_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = data_dir()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or read_or_create_secret(
    "django-secret.key", 48
)

# The key that encrypts provider tokens, key passphrases, bridge passwords and
# the message cache. It lives outside the database on purpose: a copy of the
# database alone reveals nothing.
BRIDGE_SECRET_KEY = os.environ.get("BRIDGE_SECRET_KEY") or read_or_create_secret(
    "secret.key"
)

DEBUG = env_bool("BRIDGE_DEBUG")
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get(
        "BRIDGE_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]"
    ).split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "accounts",
    "mailsync",
    "protocols",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "bridgeadmin.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "bridgeadmin.wsgi.application"
ASGI_APPLICATION = "bridgeadmin.asgi.application"

# Database: SQLite in WAL mode unless DATABASE_URL names another server.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
SQLITE_OPTIONS = {
    # WAL lets the IMAP listeners read while a sync writes; IMMEDIATE avoids
    # lock upgrades that fail under contention.
    "init_command": (
        "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;"
    ),
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "bridge.sqlite3",
            # The test database must be a file too: the suite starts real
            # processes (runbridge, celery) that open it.
            "TEST": {"NAME": str(DATA_DIR / "test-bridge.sqlite3")},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not REDIS_URL

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "bridge"},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "bridge",
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis in growth mode. On the embedded default no broker exists and
# ``runbridge`` runs the same tasks in its own worker threads (see
# mailsync/dispatch.py), so the broker URL below is never dialled there.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Growth mode's `celery beat`: event polls of every ready account, and the
# resumption of first syncs a stopped worker left unfinished.
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE

_VALIDATORS = "django.contrib.auth.password_validation"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"{_VALIDATORS}.UserAttributeSimilarityValidator"},
    {"NAME": f"{_VALIDATORS}.MinimumLengthValidator"},
    {"NAME": f"{_VALIDATORS}.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Behind a TLS-terminating proxy set BRIDGE_SECURE_COOKIES=1.
SESSION_COOKIE_SECURE = env_bool("BRIDGE_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = 60 * 60 * 12
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# The provider. The default is the real one; tests and the demo point this at
# the reference provider and trust its modulus-signing key instead.
BRIDGE_PROVIDER_URL = os.environ.get(
    "BRIDGE_PROVIDER_URL", "https://mail.proton.me/api"
)
BRIDGE_PROVIDER_MODULUS_KEY = os.environ.get("BRIDGE_PROVIDER_MODULUS_KEY", "")
BRIDGE_APP_VERSION = os.environ.get("BRIDGE_APP_VERSION", "Other")

# Listeners.
BRIDGE_IMAP_HOST = os.environ.get("BRIDGE_IMAP_HOST", "127.0.0.1")
BRIDGE_IMAP_PORT = env_int("BRIDGE_IMAP_PORT", 1143)
BRIDGE_IMAPS_PORT = env_int("BRIDGE_IMAPS_PORT", 0)
BRIDGE_SMTP_HOST = os.environ.get("BRIDGE_SMTP_HOST", "127.0.0.1")
BRIDGE_SMTP_PORT = env_int("BRIDGE_SMTP_PORT", 1025)
BRIDGE_SMTPS_PORT = env_int("BRIDGE_SMTPS_PORT", 0)
BRIDGE_DASHBOARD_HOST = os.environ.get("BRIDGE_DASHBOARD_HOST", "127.0.0.1")
BRIDGE_DASHBOARD_PORT = env_int("BRIDGE_DASHBOARD_PORT", 8000)
BRIDGE_TLS_CERT = os.environ.get("BRIDGE_TLS_CERT", "")
BRIDGE_TLS_KEY = os.environ.get("BRIDGE_TLS_KEY", "")
BRIDGE_SMTP_MAX_SIZE = env_int("BRIDGE_SMTP_MAX_SIZE", 25 * 1024 * 1024)

# Sync and events.
BRIDGE_EVENT_INTERVAL = env_int("BRIDGE_EVENT_INTERVAL", 20)
BRIDGE_EVENT_JITTER = env_int("BRIDGE_EVENT_JITTER", 10)
BRIDGE_SYNC_CONCURRENCY = env_int("BRIDGE_SYNC_CONCURRENCY", 8)
# Worker threads that run tasks inside runbridge on the embedded default.
BRIDGE_WORKERS = env_int("BRIDGE_WORKERS", 4)
# Provider calls: tries per call, and the first backoff wait in seconds.
BRIDGE_PROVIDER_ATTEMPTS = env_int("BRIDGE_PROVIDER_ATTEMPTS", 4)
BRIDGE_PROVIDER_BACKOFF = float(os.environ.get("BRIDGE_PROVIDER_BACKOFF") or 0.5)

LOG_LEVEL = os.environ.get("BRIDGE_LOG_LEVEL", "DEBUG" if DEBUG else "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Library chatter stays at WARNING unless debugging the bridge itself.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "pgpy": {"level": "WARNING"},
        "asyncio": {"level": "WARNING"},
    },
}
