"""Settings for RKH Photo Orders.

Every value comes from the environment (12-factor) with a default that is safe
for a local run: SQLite and media under ``var/``, an embedded Redis, a secret
key generated on first use. With ``DEBUG=0`` the defaults turn strict so that
``manage.py check --deploy`` passes; ``SECRET_KEY`` is then required.
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration

from rkh_site import error_reports, native_threads  # noqa: F401 (native_threads: before numpy)
from utilities import config

BASE_DIR = config.BASE_DIR
VAR_DIR = config.var_dir()

env = environ.Env()

# --- core -----------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (use a random string of 50+ characters)."
        )
    SECRET_KEY = config.local_secret_key(VAR_DIR / "secret_key")

# Encryption at rest of personal data (utilities/encrypted_fields.py; docs/configuration.md,
# "Encryption at rest"). FIELD_ENCRYPTION_KEYS: Fernet keys, comma-separated, the first one
# encrypts and every one decrypts (rotation). FIELD_HASH_KEY: the key of the e-mail lookup
# hashes. With DEBUG on and none set, each is generated once into var/ (0600, like the secret
# key); with DEBUG off an unset or published one is refused (rkh_site/checks.py).
FIELD_ENCRYPTION_KEYS = [k.strip() for k in env.list("FIELD_ENCRYPTION_KEYS", default=[]) if k]
if _bad := config.bad_fernet_keys(FIELD_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(
        f"FIELD_ENCRYPTION_KEYS: key number {', '.join(map(str, _bad))} is not a Fernet key "
        "(32 random bytes, urlsafe base64: 44 characters ending in '=')."
    )
if not FIELD_ENCRYPTION_KEYS and DEBUG:
    FIELD_ENCRYPTION_KEYS = [
        config.local_key(VAR_DIR / "field_encryption_key", config.new_fernet_key)
    ]
FIELD_HASH_KEY = env.str("FIELD_HASH_KEY", default="").strip()
if not FIELD_HASH_KEY and DEBUG:
    FIELD_HASH_KEY = config.local_key(VAR_DIR / "field_hash_key", config.new_hash_key)

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "rest_framework_api_key",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "corsheaders",
    "csp",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "auditlog",
    # Request ids (X-Request-ID) on log lines, answers and Celery tasks (DJANGO_GUID below).
    "django_guid",
    # Prometheus metrics of requests and database calls; /metrics (rkh_site/metrics_view.py).
    "django_prometheus",
    "rkh_site",
    "accounts",
    "events",
    "orders",
    "ai_processing",
    "pmr",
    "analytics",
    "notifications",
    "backups",
]

MIDDLEWARE = [
    # Before anything reads the client's address (or any header: request.headers is computed
    # once): REMOTE_ADDR, set by the ASGI server from trusted proxies only
    # (FORWARDED_ALLOW_IPS), is the only one (rkh_site/client_address.py).
    "rkh_site.client_address.DropForwardedFor",
    # Then django-prometheus times the rest of the request (its After middleware last).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # The request id (a well-formed X-Request-ID, else a new one) before anything logs.
    "django_guid.middleware.guid_middleware",
    # It answers CORS preflights and must add its headers to every API answer.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # WhiteNoise and django-auditlog, async-capable: no thread hop per request under ASGI.
    "rkh_site.async_middleware.StaticFiles",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Content-Security-Policy on every answer (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "rkh_site.async_middleware.Auditlog",
    # The order of an order page or endpoint on the request's log lines (utilities/log_context).
    "utilities.log_context.OrderRefMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "rkh_site.urls"
ASGI_APPLICATION = "rkh_site.asgi.application"
WSGI_APPLICATION = "rkh_site.wsgi.application"

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
                "accounts.context_processors.roles",
                "notifications.context_processors.bell",
            ],
        },
    },
]

# --- data -----------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded run has a web process and a worker writing at once: WAL lets
    # readers go on during a write, IMMEDIATE transactions and a busy timeout
    # make writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
elif env.int("DB_POOL_MAX_SIZE", default=10) > 0:
    # A connection pool per process (psycopg_pool). The ASGI server runs each request's ORM
    # work in a thread of its own: with persistent per-thread connections every request
    # opened a new one and they piled up under load (docs/benchmarks.md, "API"); the pool
    # hands out a few kept connections instead.
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django must not
    # A database that does not answer fails a new connection in seconds, not at the TCP
    # default of minutes (libpq's connect_timeout; /healthz uses a shorter one of its own).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DB_CONNECT_TIMEOUT_SECONDS", default=5)
    )
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DB_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
        "timeout": env.int("DB_POOL_TIMEOUT_SECONDS", default=30),
    }
else:  # DB_POOL_MAX_SIZE=0: no pool, persistent connections as before
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

# django-prometheus' database backends: Django's own, counting connections, queries, errors and
# query durations for /metrics (a few counter increments per query). Same options, same pool.
_PROMETHEUS_DB_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
DATABASES["default"]["ENGINE"] = _PROMETHEUS_DB_ENGINES.get(
    DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"]
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

REDIS_URL = config.redis_url()
CACHES = {
    "default": {
        "BACKEND": "rkh_site.redis_cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="rkh"),
        "TIMEOUT": 300,
    }
}
# cached_db sessions that survive a Redis outage (the database is their source of truth).
SESSION_ENGINE = "rkh_site.sessions"
#: A sign-in lasts a working day ("remember me"; without it, until the browser closes), not
#: Django's two weeks: a studio PC left signed in is open to the next person for less long.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=24 * 3600)

# channels-redis waits for a consumer's messages with a blocking BZPOPMIN of 5 s; redis-py 8
# gives every connection a 5 s read timeout by default, so an idle consumer's wait timed out
# and its WebSocket closed (1006) every ~5 s. The read timeout must outlast the blocking wait;
# keepalive and health checks still find a dead connection.
CHANNEL_LAYERS_SOCKET_TIMEOUT = 30
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "rkh_site.channel_layer.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": REDIS_URL,
                    "socket_timeout": CHANNEL_LAYERS_SOCKET_TIMEOUT,
                    "socket_connect_timeout": 5,
                    "socket_keepalive": True,
                    "health_check_interval": 30,
                }
            ],
            "prefix": env.str("CHANNELS_PREFIX", default="rkh-channels"),
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

# --- files ----------------------------------------------------------------

MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [
    BASE_DIR / "static",
    # Chart.js from npm (package-lock.json; `npm ci` runs in `make run` / `make test`), no CDN.
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
#: Where media (originals, renditions, processed files, uploads in progress) live:
#: ``local`` (MEDIA_ROOT, the default for `make run`) or ``s3`` (an S3-compatible object
#: store shared by every web process and worker: docs/deployment.md "Object storage").
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
if MEDIA_STORAGE == "local":
    _MEDIA_BACKEND: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    _MEDIA_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("MEDIA_S3_BUCKET"),
            "endpoint_url": env.str("MEDIA_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("MEDIA_S3_REGION", default="us-east-1"),
            "access_key": env.str("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("MEDIA_S3_PREFIX", default=""),
            # Server-made names are never reused: an existing name is an error upstream,
            # not a reason to invent another (the bookkeeping announced this one).
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
            #: Originals handed to users as signed links live this long (seconds).
            "querystring_expire": env.int("MEDIA_S3_URL_SECONDS", default=300),
            "addressing_style": env.str("MEDIA_S3_ADDRESSING", default="path"),
            "signature_version": "s3v4",
        },
    }
else:
    raise ImproperlyConfigured("MEDIA_STORAGE must be 'local' or 's3'.")
STORAGES = {
    "default": _MEDIA_BACKEND,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
FILE_UPLOAD_PERMISSIONS = 0o640

# --- intake -----------------------------------------------------------------

#: Largest accepted image file, in bytes (default 100 MB).
INGEST_MAX_FILE_BYTES = env.int("INGEST_MAX_FILE_BYTES", default=100 * 1024 * 1024)
#: Largest accepted image, in pixels (default 120 MP): the decompression-bomb guard.
INGEST_MAX_PIXELS = env.int("INGEST_MAX_PIXELS", default=120_000_000)
#: Drop GPS coordinates from stored EXIF facts (the studio's privacy setting).
INGEST_STRIP_GPS = env.bool("INGEST_STRIP_GPS", default=True)
#: Long side of the preview and the thumbnail made at ingest, in pixels.
PREVIEW_SIZE = env.int("PREVIEW_SIZE", default=2048)
THUMBNAIL_SIZE = env.int("THUMBNAIL_SIZE", default=400)
#: Hamming distance between perceptual hashes at or under which two images of
#: one event are flagged as near-duplicates.
NEAR_DUPLICATE_DISTANCE = env.int("NEAR_DUPLICATE_DISTANCE", default=6)
#: Bytes per request of a resumable upload (the client's chunk size).
UPLOAD_CHUNK_BYTES = env.int("UPLOAD_CHUNK_BYTES", default=8 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_CHUNK_BYTES + 1024 * 1024
#: An upload nobody has added to for this long is stopped and its bytes deleted.
UPLOAD_STALE_HOURS = env.int("UPLOAD_STALE_HOURS", default=6)
#: An image's ingest holds a Redis lease this long, renewed while it runs (as the AI lease).
INGEST_LEASE_SECONDS = env.int("INGEST_LEASE_SECONDS", default=60)
#: An order made through the REST API waits for its client's submit; after this many hours
#: without news the order's timeline says so (order.submit_overdue) for staff to act.
ORDER_SUBMIT_IDLE_HOURS = env.float("ORDER_SUBMIT_IDLE_HOURS", default=6)
#: Seconds an order folder in the hot folder must stay unchanged before import.
HOT_FOLDER_SETTLE_SECONDS = env.int("HOT_FOLDER_SETTLE_SECONDS", default=30)
#: Folder watched for new order folders (empty: off); see docs/intake.md.
HOT_FOLDER = env.str("HOT_FOLDER", default="")
#: AI providers, tried in this order (unknown or unbuilt names are skipped); see docs/ai.md.
AI_PROVIDERS = env.list("AI_PROVIDERS", default=["runware", "gemini", "local"])
#: Seconds an AI result stays cached, keyed by image SHA-256, operation, prompt and model.
AI_CACHE_TTL_SECONDS = env.int("AI_CACHE_TTL_SECONDS", default=7 * 24 * 3600)
#: Consecutive failures that open a provider's circuit, and seconds before one probe.
AI_BREAKER_FAILURES = env.int("AI_BREAKER_FAILURES", default=5)
AI_BREAKER_COOLDOWN_SECONDS = env.int("AI_BREAKER_COOLDOWN_SECONDS", default=60)
#: Runware and Gemini providers (docs/ai.md "Runware and Gemini providers"). With no key set,
#: each talks to its local simulator (started by `make run`) with the key "simulator"; with a
#: key and no URL, to the real service.
#: Ports of the local simulators `make run` starts (the Procfile reads the same variables).
RUNWARE_SIM_PORT = env.int("RUNWARE_SIM_PORT", default=56791)
GEMINI_SIM_PORT = env.int("GEMINI_SIM_PORT", default=56792)
PMR_SIM_PORT = env.int("PMR_SIM_PORT", default=56793)
RUNWARE_API_KEY = env.str("RUNWARE_API_KEY", default="")
RUNWARE_URL = env.str(
    "RUNWARE_URL",
    default="wss://ws-api.runware.ai/v1"
    if RUNWARE_API_KEY
    else f"ws://127.0.0.1:{RUNWARE_SIM_PORT}/v1",
)
RUNWARE_MODEL = env.str("RUNWARE_MODEL", default="google:4@1")
#: A higher-resolution model for edits (e.g. google:4@2, Nano Banana Pro), answering at
#: RUNWARE_EDIT_HIRES_RESOLUTION ("2K" or "4K"). Empty (the default): edits stay on
#: RUNWARE_MODEL at ~1 MP and reach print size by imageUpscale. See docs/ai.md "Full
#: resolution: generative edits" for the cost of turning it on.
RUNWARE_EDIT_MODEL_HIRES = env.str("RUNWARE_EDIT_MODEL_HIRES", default="")
RUNWARE_EDIT_HIRES_RESOLUTION = env.str("RUNWARE_EDIT_HIRES_RESOLUTION", default="4K")
#: Upscaler AIR for imageUpscale (e.g. runware:500@1); empty: Runware's default upscaler.
RUNWARE_UPSCALE_MODEL = env.str("RUNWARE_UPSCALE_MODEL", default="")
GEMINI_API_KEY = env.str("GEMINI_API_KEY", default="")
#: Empty: Google's endpoint (https://generativelanguage.googleapis.com).
GEMINI_BASE_URL = env.str(
    "GEMINI_BASE_URL", default="" if GEMINI_API_KEY else f"http://127.0.0.1:{GEMINI_SIM_PORT}"
)
#: gemini-2.5-flash-image was shut down on 2 Oct 2026; its successor is the default.
GEMINI_MODEL = env.str("GEMINI_MODEL", default="gemini-3.1-flash-image")
#: imageConfig.imageSize of Gemini edits ("1K", "2K", "4K"; Gemini 3 image models only).
#: Empty: not sent, the model's default (1K).
GEMINI_IMAGE_SIZE = env.str("GEMINI_IMAGE_SIZE", default="")
#: An image's AI task holds a Redis lease so that a second delivery of the same image (queued
#: at ingest and again when the order starts, redelivered, queued by the sweep) steps aside.
#: The lease is renewed every third of this while the task runs, so it only has to outlast a
#: renewal: a worker killed mid-image frees the image within this many seconds.
AI_IMAGE_LEASE_SECONDS = env.int("AI_IMAGE_LEASE_SECONDS", default=60)
#: A provider slot (AI_PROVIDER_CONCURRENCY) is a lease of this many seconds, renewed while
#: the call runs: slots of a killed task come free within it. A task waits at most
#: AI_SLOT_WAIT_SECONDS for a slot before the chain moves on to the next provider.
AI_SLOT_LEASE_SECONDS = env.int("AI_SLOT_LEASE_SECONDS", default=30)
AI_SLOT_WAIT_SECONDS = env.int("AI_SLOT_WAIT_SECONDS", default=120)
#: The later stages of the order pipeline (orders/pipeline.py), by dotted path: orders sits
#: below ai_processing and pmr in the layers, so rkh_site wires them (tests may swap them).
PIPELINE_STAGES = {"ai": "ai_processing.stage.AiStage", "delivery": "pmr.stage.DeliveryStage"}
#: Preset used for orders that name none (a ProcessingPreset slug); see docs/ai.md "Pipeline".
AI_DEFAULT_PRESET = env.str("AI_DEFAULT_PRESET", default="analyze-only")
#: Calls in flight per provider, shared by every worker through Redis (JSON; absent: no limit).
AI_PROVIDER_CONCURRENCY = env.json(
    "AI_PROVIDER_CONCURRENCY", default={"runware": 4, "gemini": 2, "local": 2}
)
#: Full resolution (docs/ai.md "Full resolution: tonal edits"): an edit whose fitted colour
#: transform explains the model's small answer to at least FULLRES_MIN_PSNR dB, with at most
#: FULLRES_MAX_CHANGED_SHARE of the picture changed in content, is tonal and applied to the
#: full original; otherwise it is generative and the answer is enlarged. JPEG quality of the
#: full-size result (98 keeps a camera file's fine grain; 95 loses up to a tenth of it, 92
#: about a third; docs/benchmarks.md "Full resolution").
FULLRES_MIN_PSNR = env.float("FULLRES_MIN_PSNR", default=28.0)
FULLRES_MAX_CHANGED_SHARE = env.float("FULLRES_MAX_CHANGED_SHARE", default=0.005)
FULLRES_JPEG_QUALITY = env.int("FULLRES_JPEG_QUALITY", default=98)

# --- prints -----------------------------------------------------------------
# docs/prints.md: an image whose crop for an ordered print size gives fewer dots per inch
# than this goes to review (reason "print_size") instead of to the PMR.
PRINT_MIN_DPI = env.int("PRINT_MIN_DPI", default=300)
if not 1 <= PRINT_MIN_DPI <= 2400:
    raise ImproperlyConfigured("PRINT_MIN_DPI must be between 1 and 2400.")

# --- live status ------------------------------------------------------------
# docs/live.md: one WebSocket message per order watcher at most every LIVE_FLUSH_MS (progress
# of a big order is coalesced), dashboard snapshots at most every LIVE_DASHBOARD_MS, and a
# heartbeat (which also re-checks the user's access) every LIVE_HEARTBEAT_S.
LIVE_FLUSH_MS = env.int("LIVE_FLUSH_MS", default=100)
LIVE_DASHBOARD_MS = env.int("LIVE_DASHBOARD_MS", default=500)
LIVE_HEARTBEAT_S = env.int("LIVE_HEARTBEAT_S", default=25)

# --- PMR ------------------------------------------------------------------
# The studio's Photo Management Repository (docs/pmr.md). Without PMR_BASE_URL the local
# simulator is used (`make run` starts it on 56793 with the demo credentials below).
PMR_BASE_URL = env.str("PMR_BASE_URL", default=f"http://127.0.0.1:{PMR_SIM_PORT}")
PMR_CLIENT_ID = env.str("PMR_CLIENT_ID", default="demo-client")
PMR_CLIENT_SECRET = env.str("PMR_CLIENT_SECRET", default="demo-secret")
PMR_API_KEY = env.str("PMR_API_KEY", default="demo-api-key")
PMR_WEBHOOK_SECRET = env.str("PMR_WEBHOOK_SECRET", default="demo-webhook-secret")
#: Read timeout of a PMR call (connect: at most 5 s); each call is tried PMR_CLIENT_ATTEMPTS times.
PMR_TIMEOUT_SECONDS = env.float("PMR_TIMEOUT_SECONDS", default=30.0)
PMR_CLIENT_ATTEMPTS = env.int("PMR_CLIENT_ATTEMPTS", default=3)
#: Image uploads of one order in flight at once.
PMR_UPLOAD_CONCURRENCY = env.int("PMR_UPLOAD_CONCURRENCY", default=8)
#: Print renditions of one order rendered at once while uploading (each holds its crop's pixels).
PMR_RENDER_CONCURRENCY = env.int("PMR_RENDER_CONCURRENCY", default=2)
PMR_BREAKER_FAILURES = env.int("PMR_BREAKER_FAILURES", default=5)
PMR_BREAKER_COOLDOWN_SECONDS = env.int("PMR_BREAKER_COOLDOWN_SECONDS", default=30)
#: An outbox row that failed (retryably) waits base x 2^(attempts-1) seconds, at most max.
PMR_RETRY_BASE_SECONDS = env.float("PMR_RETRY_BASE_SECONDS", default=5.0)
PMR_RETRY_MAX_SECONDS = env.float("PMR_RETRY_MAX_SECONDS", default=300.0)
PMR_DRAIN_LEASE_SECONDS = env.int("PMR_DRAIN_LEASE_SECONDS", default=60)
PMR_EVENT_CACHE_SECONDS = env.int("PMR_EVENT_CACHE_SECONDS", default=3600)
PMR_CUSTOMER_CACHE_SECONDS = env.int("PMR_CUSTOMER_CACHE_SECONDS", default=4 * 3600)
PMR_SYNC_INTERVAL_SECONDS = env.int("PMR_SYNC_INTERVAL_SECONDS", default=300)
#: A webhook whose X-PMR-Timestamp is further than this from now is refused.
PMR_WEBHOOK_TOLERANCE_SECONDS = env.int("PMR_WEBHOOK_TOLERANCE_SECONDS", default=300)

# --- auth -----------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {"login_failed": "5/5m/ip,5/5m/key"}
ACCOUNT_PREVENT_ENUMERATION = True
# Accounts are made by admins; self sign-up stays closed unless switched on.
ACCOUNT_ALLOW_SIGNUPS = env.bool("ACCOUNT_ALLOW_SIGNUPS", default=False)

# Single sign-on: each provider is switched on by setting its client id and secret.
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_ONLY = False
if env.str("MICROSOFT_CLIENT_ID", default=""):
    INSTALLED_APPS.append("allauth.socialaccount.providers.microsoft")
    SOCIALACCOUNT_PROVIDERS["microsoft"] = {
        "APPS": [
            {
                "client_id": env.str("MICROSOFT_CLIENT_ID"),
                "secret": env.str("MICROSOFT_CLIENT_SECRET"),
                "settings": {"tenant": env.str("MICROSOFT_TENANT", default="organizations")},
            }
        ],
    }
if env.str("GOOGLE_CLIENT_ID", default=""):
    INSTALLED_APPS.append("allauth.socialaccount.providers.google")
    SOCIALACCOUNT_PROVIDERS["google"] = {
        "APPS": [
            {
                "client_id": env.str("GOOGLE_CLIENT_ID"),
                "secret": env.str("GOOGLE_CLIENT_SECRET"),
            }
        ],
        "SCOPE": ["profile", "email"],
        "AUTH_PARAMS": {"hd": env.str("GOOGLE_WORKSPACE_DOMAIN", default="*")},
    }

#: Unset, mail goes to files under var/mail: right for `make run`, silent loss in production,
#: which therefore refuses to start without it (rkh_site/checks.py; `dummymail://` sends none).
_email_url = env.str("EMAIL_URL", default="").strip()  # set but empty (as in .env): unset
EMAIL_URL_SET = bool(_email_url)
EMAIL_CONFIG = environ.Env.email_url_config(_email_url or "filemail://")
vars().update(EMAIL_CONFIG)
if EMAIL_CONFIG["EMAIL_BACKEND"] == "django.core.mail.backends.filebased.EmailBackend":
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="RKH Photo Orders <noreply@localhost>")

# --- notifications ----------------------------------------------------------
# docs/notifications.md. E-mail goes through the mail settings above (EMAIL_URL), the same
# ones password reset uses. Web Push keys (VAPID) come from the environment; with DEBUG on and
# none set, a key pair is generated once into var/vapid_private_key (0600, like the secret
# key); with DEBUG off and none set, push is off and the settings page says so.

#: Links in e-mails point here (no request to take the host from in a task).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:56789").rstrip("/")
VAPID_PRIVATE_KEY = env.str("VAPID_PRIVATE_KEY", default="")
VAPID_PUBLIC_KEY = env.str("VAPID_PUBLIC_KEY", default="").rstrip("=")
if VAPID_PRIVATE_KEY:
    try:
        _derived_public = config.vapid_public_key(VAPID_PRIVATE_KEY)
    except ValueError as exc:
        raise ImproperlyConfigured(str(exc)) from None
    if VAPID_PUBLIC_KEY and _derived_public != VAPID_PUBLIC_KEY:
        raise ImproperlyConfigured("VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY.")
    VAPID_PUBLIC_KEY = _derived_public
elif DEBUG:
    VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY = config.local_vapid_keys(VAR_DIR / "vapid_private_key")
else:
    VAPID_PUBLIC_KEY = ""  # half a key pair: push stays off
#: Who runs this server, for push services (a ``mailto:`` or ``https:`` URL).
VAPID_SUBJECT = env.str(
    "VAPID_SUBJECT", default=f"mailto:{parseaddr(DEFAULT_FROM_EMAIL)[1] or 'noreply@localhost'}"
)
#: How long a push service keeps a message for a browser that is offline.
WEBPUSH_TTL_SECONDS = env.int("WEBPUSH_TTL_SECONDS", default=24 * 3600)
#: Push services subscriptions may point at (host names, a leading "." for subdomains); https
#: only, except a loopback host named here (the tests' push service simulator).
WEBPUSH_ALLOWED_HOSTS = env.list(
    "WEBPUSH_ALLOWED_HOSTS",
    default=[
        "fcm.googleapis.com",
        ".push.services.mozilla.com",
        ".push.apple.com",
        ".notify.windows.com",
    ],
)
#: Failed sign-ins for one account within the window that make Admins hear of it (once).
NOTIFY_SIGNIN_FAILURES = env.int("NOTIFY_SIGNIN_FAILURES", default=5)
NOTIFY_SIGNIN_WINDOW_MINUTES = env.int("NOTIFY_SIGNIN_WINDOW_MINUTES", default=15)
#: Seconds between two looks at the circuit breakers for "AI provider or PMR down".
NOTIFY_OUTAGE_CHECK_SECONDS = env.int("NOTIFY_OUTAGE_CHECK_SECONDS", default=30)

# --- backups ----------------------------------------------------------------
# docs/deployment.md "Backups": the database and MEDIA_ROOT, daily by beat or by hand
# (`manage.py backup`), each backup a folder of BACKUP_DIR with a SHA-256 manifest that is
# checked after writing and before `manage.py restore_backup`.

#: Where backups are written (one folder per backup). Put it on another disk, or copy it off
#: the machine: a backup beside the data it saves is lost with that disk.
BACKUP_DIR = env.path("BACKUP_DIR", default=VAR_DIR / "backups")
if Path(BACKUP_DIR).resolve().is_relative_to(Path(MEDIA_ROOT).resolve()):
    # The media backup would archive the backups, and a restore would delete them.
    raise ImproperlyConfigured("BACKUP_DIR must not be inside MEDIA_ROOT.")
#: A copy of every backup in this S3-compatible bucket (empty: none). Same store and credentials
#: as the media unless BACKUP_S3_ENDPOINT_URL / _ACCESS_KEY_ID / _SECRET_ACCESS_KEY say otherwise;
#: use another bucket, ideally another store (docs/deployment.md "Backups").
BACKUP_S3_BUCKET = env.str("BACKUP_S3_BUCKET", default="")
BACKUP_S3_OPTIONS = {
    "bucket_name": BACKUP_S3_BUCKET,
    "endpoint_url": env.str("BACKUP_S3_ENDPOINT_URL", default="")
    or env.str("MEDIA_S3_ENDPOINT_URL", default="")
    or None,
    "region_name": env.str("BACKUP_S3_REGION", default="")
    or env.str("MEDIA_S3_REGION", default="us-east-1"),
    "access_key": env.str("BACKUP_S3_ACCESS_KEY_ID", default="")
    or env.str("MEDIA_S3_ACCESS_KEY_ID", default="")
    or None,
    "secret_key": env.str("BACKUP_S3_SECRET_ACCESS_KEY", default="")
    or env.str("MEDIA_S3_SECRET_ACCESS_KEY", default="")
    or None,
    "file_overwrite": True,
    "default_acl": None,
    "addressing_style": env.str("MEDIA_S3_ADDRESSING", default="path"),
    "signature_version": "s3v4",
}
#: Complete backups kept; older ones are deleted after each successful backup (never after a
#: failed one, so a run of failures cannot delete the last good backups).
BACKUP_KEEP = env.int("BACKUP_KEEP", default=7)
if BACKUP_KEEP < 1:
    raise ImproperlyConfigured("BACKUP_KEEP must be 1 or more.")
#: The daily backup's time of day, in UTC (beat's clock).
BACKUP_HOUR = env.int("BACKUP_HOUR", default=2)
BACKUP_MINUTE = env.int("BACKUP_MINUTE", default=30)
#: The admin and the dashboard warn when the last good backup is older than this.
BACKUP_STALE_HOURS = env.int("BACKUP_STALE_HOURS", default=26)

# --- audit ----------------------------------------------------------------

AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_DISABLE_REMOTE_ADDR = False
#: Audit entries older than this are removed by the retention task (0 keeps all).
AUDITLOG_RETENTION_DAYS = env.int("AUDITLOG_RETENTION_DAYS", default=365)

# --- retention of customer data ---------------------------------------------

#: Days after an order is completed (or cancelled) before its files and its customer's personal
#: data are erased (``orders.privacy``, daily beat task); an event may set its own; 0: never.
RETENTION_DAYS = env.int("RETENTION_DAYS", default=90)

# --- REST API ---------------------------------------------------------------

REST_FRAMEWORK = {
    # API keys first: their challenge is the one a 401 names (docs/api.md "Authentication").
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rkh_site.api_auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # JSON only: no browsable HTML forms listing every related row.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "utilities.api.errors.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["utilities.api.filters.FilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": ["rkh_site.api_throttling.UserRateThrottle"],
    "DEFAULT_SCHEMA_CLASS": "utilities.api.schema.AutoSchema",
    # One error shape for every answer that is not a success: see docs/api.md.
    "EXCEPTION_HANDLER": "utilities.api.errors.exception_handler",
}
#: Threads that serve ``/api/`` through Django's WSGI handler in each web process
#: (rkh_site/api_over_wsgi.py); 0: the API goes through the ASGI handler like the pages. At
#: most ``DB_POOL_MAX_SIZE`` of them can hold a database connection at once.
API_WSGI_THREADS = env.int("API_WSGI_THREADS", default=8)
#: Requests per user (or per IP without sign-in) and period, counted in the Redis cache.
API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="100/minute")
#: How long an ``Idempotency-Key`` and the first answer sent for it are kept.
API_IDEMPOTENCY_HOURS = env.int("API_IDEMPOTENCY_HOURS", default=24)

SPECTACULAR_SETTINGS = {
    "TITLE": "RKH Photo Orders API",
    "DESCRIPTION": "Orders, images, events and AI processing for external systems. "
    "Authenticate with `Authorization: Api-Key <key>` or a browser session; "
    "see docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Read-only fields stay out of request bodies, so clients and fuzzers send what is accepted.
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["utilities.api.schema.preprocess_paths"],
    # The docs page works offline: Swagger UI comes from drf-spectacular-sidecar's static files.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "ImageStatusEnum": "orders.models.ImageStatus",
        "EventTypeEnum": "events.models.Event.Type",
    },
}

#: Browser origins allowed to call the API from their pages (none by default).
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "x-csrftoken",
    "x-requested-with",
    "x-request-id",  # a client's own request id, kept when well-formed (DJANGO_GUID below)
)
CORS_EXPOSE_HEADERS = ("Retry-After", "Idempotent-Replayed")

# --- Celery -----------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
#: Seconds the Redis transport waits for a delivered task's acknowledgement before it gives
#: the message to another worker: how long the task of a killed worker stays away. Celery's
#: default is an hour (the stuck-for-an-hour orders of issue 11). Five minutes is longer than
#: any step normally runs (an ingest of a 120 MP file, an image through three providers with
#: fallbacks, a drain batch); a task that runs longer is delivered a second time while it
#: runs, and that copy steps aside on the renewed lease the running one holds (images) or
#: finds the order's drain busy. No countdown may exceed it (retries and scheduled drains stay
#: under half of it), or the transport would deliver the message again before it is due.
#: See docs/deployment.md, "What survives what".
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Look for overdue messages every 10 s (kombu's default scans every 100 s).
    "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
    "unacked_restore_throttle": 1,
}
#: The longest wait between two retries of a task that met an outage (Redis, the database).
CELERY_RETRY_BACKOFF_MAX = min(
    env.int("CELERY_RETRY_BACKOFF_MAX", default=60), max(1, CELERY_VISIBILITY_TIMEOUT // 2)
)
#: The beat sweeps look for stuck work this often; work is stuck when its step has not moved
#: for STUCK_AFTER_SECONDS and no worker holds its lease (docs/deployment.md).
SWEEP_INTERVAL_SECONDS = env.float("SWEEP_INTERVAL_SECONDS", default=60)
STUCK_AFTER_SECONDS = env.float("STUCK_AFTER_SECONDS", default=120)
#: How often the beat looks for images whose worker died holding their lease (a claim left in
#: Redis, the lease run out): they are queued again then, a lease period after the kill.
ORPHAN_SWEEP_SECONDS = env.float("ORPHAN_SWEEP_SECONDS", default=10)
#: A worker stopping after an unrecoverable error may take this long before the process exits
#: anyway, for its supervisor to restart it (rkh_site/worker_exit.py).
WORKER_EXIT_GRACE_SECONDS = env.float("WORKER_EXIT_GRACE_SECONDS", default=30)
#: How often the beat approves orders whose approval waiting time passed (docs/approval.md).
AUTO_APPROVE_INTERVAL_SECONDS = env.float("AUTO_APPROVE_INTERVAL_SECONDS", default=300)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "default"
#: Monitors send it as "Authorization: Bearer <token>" for /healthz/ready and the details of
#: /healthz (staff signed in need none). Unset: staff only.
HEALTH_TOKEN = env.str("HEALTH_TOKEN", default="")
#: Queues a complete installation consumes; /healthz/ready names any without a worker.
CELERY_REQUIRED_QUEUES = env.list(
    "CELERY_REQUIRED_QUEUES", default=["default", "ingest", "ai", "pmr"]
)
CELERY_TASK_ROUTES = {
    # The sweeps run on the default queue: never behind the backlog they look after.
    "orders.tasks.sweep_*": {"queue": "default"},
    "ai_processing.tasks.sweep_*": {"queue": "default"},
    "orders.tasks.ingest_*": {"queue": "ingest"},
    "ai_processing.tasks.*": {"queue": "ai"},
    "pmr.tasks.*": {"queue": "pmr"},
}
CELERY_BEAT_SCHEDULE = {
    "abort-stale-uploads": {
        "task": "orders.tasks.abort_stale_uploads",
        "schedule": 3600,
    },
    "pmr-drain-due": {"task": "pmr.tasks.drain_due", "schedule": min(30, SWEEP_INTERVAL_SECONDS)},
    # The dashboard's order counters: their change rows folded (orders.tallies).
    "compact-status-tallies": {"task": "orders.tasks.compact_status_tallies", "schedule": 60},
    "sweep-stuck-ingest": {
        "task": "orders.tasks.sweep_stuck_ingest",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "sweep-stuck-ai": {
        "task": "ai_processing.tasks.sweep_stuck",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "sweep-orphaned-ingest": {
        "task": "orders.tasks.sweep_orphaned_ingest",
        "schedule": ORPHAN_SWEEP_SECONDS,
    },
    "sweep-orphaned-ai": {
        "task": "ai_processing.tasks.sweep_orphaned",
        "schedule": ORPHAN_SWEEP_SECONDS,
    },
    "auto-approve-due": {
        "task": "ai_processing.tasks.sweep_auto_approve",
        "schedule": AUTO_APPROVE_INTERVAL_SECONDS,
    },
    "pmr-pull-updates": {
        "task": "pmr.tasks.pull_updates",
        "schedule": PMR_SYNC_INTERVAL_SECONDS,
    },
    "audit-retention": {
        "task": "accounts.tasks.purge_old_audit_entries",
        "schedule": 24 * 3600,
    },
    "customer-data-retention": {
        "task": "orders.tasks.apply_retention",
        "schedule": 24 * 3600,
    },
    "idempotency-keys-retention": {
        "task": "accounts.tasks.purge_idempotency_records",
        "schedule": 3600,
    },
    "notifications-outages": {
        "task": "notifications.tasks.check_outages",
        "schedule": NOTIFY_OUTAGE_CHECK_SECONDS,
    },
    "notifications-resend-stuck": {
        "task": "notifications.tasks.send_waiting",
        "schedule": 300,
    },
    "daily-backup": {
        "task": "backups.tasks.daily_backup",
        "schedule": crontab(hour=BACKUP_HOUR, minute=BACKUP_MINUTE),
    },
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- i18n -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
#: "4 Dec 2026, 09:21" everywhere (rkh_site/formats/en/formats.py).
FORMAT_MODULE_PATH = ["rkh_site.formats"]

# --- security ---------------------------------------------------------------

#: A refused form gets a page of the site, with its navigation (rkh_site/errors.py).
CSRF_FAILURE_VIEW = "rkh_site.errors.csrf_failure"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# Content Security Policy (django-csp) on every HTML page: scripts and styles only from this
# site's own files (no inline script, no CDN: front-end packages are installed from npm), images
# also as data:/blob: (previews of files being uploaded), sockets to this site, nothing framed.
# A script a person managed to put into a caption or a file name cannot run.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("BEHIND_TLS_PROXY", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- logging ----------------------------------------------------------------
# Every line carries the request id (django-guid: a well-formed incoming X-Request-ID, else a
# new one; answered in the X-Request-ID header and carried into the Celery tasks the request
# queues) and the order it is about (utilities/log_context.py). Human-readable lines for
# `make run` (DEBUG=1), one JSON object per line in production, for a log collector
# (docs/deployment.md, "Watching it run"). Workers and beat log through this configuration too
# (rkh_site/celery.py), as does uvicorn.

#: ``console`` (readable) or ``json``; the default follows DEBUG.
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in ("console", "json"):
    raise ImproperlyConfigured("LOG_FORMAT must be 'console' or 'json'.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "utilities.log_context.LogContextFilter"}},
    "formatters": {
        "console": {
            "()": "utilities.log_context.ConsoleFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s",
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s %(request_id)s %(order_ref)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own default handler for its loggers (on with DEBUG) printed each of their
        # lines a second time, unformatted: ours only.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # A line per request and per queued task ("header found", "setting GUID") is noise;
        # its warnings (a malformed X-Request-ID replaced) stay.
        "django_guid": {"level": "WARNING"},
        # uvicorn's own lines in the same format (it configures its loggers before Django).
        **{
            name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    },
}

#: The request id: read from and answered in X-Request-ID; an incoming one is kept when it is
#: a UUID (32 hex digits, with or without dashes: nginx's $request_id is one), else replaced.
#: The Celery integration puts it into the headers of the tasks a request queues and binds it
#: in the worker (its use_django_logging: Celery logs through LOGGING, above).
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": True,
    "RETURN_HEADER": True,
    "EXPOSE_HEADER": False,  # CORS_EXPOSE_HEADERS below names it for the API's browsers
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True)],
}
CORS_EXPOSE_HEADERS = (*CORS_EXPOSE_HEADERS, "X-Request-ID")

# --- metrics and error reports -------------------------------------------------

#: Prometheus sends it as "Authorization: Bearer <token>" for /metrics; staff signed in need
#: none. Unset: /metrics answers 404 to everyone but staff (check --deploy warns, W001).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
#: django-prometheus: the migrations' gauges would query the database at every start.
PROMETHEUS_EXPORT_MIGRATIONS = False

#: Sentry (or a compatible service): errors of the web process, workers and beat, only when a
#: DSN is set; nothing is initialised otherwise. No personal data is sent
#: (send_default_pii=False); rkh_site/error_reports.py.
SENTRY_DSN = env.str("SENTRY_DSN", default="").strip()
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    error_reports.init(
        SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE or None,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
