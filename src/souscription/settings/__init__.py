"""Django settings, built from the environment (see `environment.SETTINGS` for every variable)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

from souscription.configuration import embedded_secret_key, read_environment
from souscription.platform.logging import logging_config

PACKAGE_DIR = Path(__file__).resolve().parent.parent
ENV = read_environment(os.environ, base_dir=Path.cwd())

SECRET_KEY = ENV.secret_key or embedded_secret_key(ENV.data_dir)
DEBUG = ENV.debug
ALLOWED_HOSTS = list(ENV.allowed_hosts)
CSRF_TRUSTED_ORIGINS = list(ENV.csrf_trusted_origins)
SOUSCRIPTION_PRODUCT_DIRS = ENV.product_dirs
SOUSCRIPTION_DATA_DIR = ENV.data_dir

INSTALLED_APPS = [
    # First, so that its `migrate` (all databases at once) overrides Django's.
    "souscription.platform",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "souscription.identity",
    "souscription.customers",
    "souscription.tickets",
    "souscription.sales",
    "souscription.underwriting",
    "souscription.billing",
    "souscription.consents",
    "souscription.subscriptions",
    "souscription.partners",
    "souscription.connectors",
    "souscription.audit",
    "souscription.gdpr",
    "souscription.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything below, so that replayed (idempotent) and error answers carry the headers too.
    "souscription.platform.middleware.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "souscription.identity.middleware.SecondFactorMiddleware",
    "souscription.audit.context.AuditActorMiddleware",
    "souscription.platform.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "souscription.platform.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "souscription.urls"
WSGI_APPLICATION = "souscription.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "souscription.identity.context_processors.staff",
            ],
        },
    },
]


def _database(url: str) -> dict[str, Any]:
    # SQLite connections are kept for the life of their thread (a file open, no server to exhaust): reopening one
    # per workflow step cost more than the step's own work. PostgreSQL ones are recycled after a minute.
    config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=None if url.startswith("sqlite") else 60))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["ENGINE"] = "souscription.platform.embedded_sqlite3"  # writers queue at a gate, see its `base`
        # WAL lets readers run beside the writer; synchronous=FULL because a committed dossier must survive a
        # power cut; IMMEDIATE takes the write lock at BEGIN so concurrent writers wait instead of failing.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
    return config


DATABASES = {alias: _database(url) for alias, url in ENV.database_urls.items()}
DATABASE_ROUTERS = ["souscription.platform.databases.DepartmentRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "identity.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = ENV.secure_cookies
CSRF_COOKIE_SECURE = ENV.secure_cookies
# Staff sessions end after 30 minutes without a request and 10 hours after the password was given, whichever comes
# first (identity.middleware); the cookie itself never outlives the absolute limit.
SESSION_IDLE_SECONDS = 30 * 60
SESSION_ABSOLUTE_SECONDS = 10 * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
OTP_TOTP_ISSUER = "Souscription"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if ENV.is_production:
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True

STATIC_URL = "/static/"
# Static files are served straight from the apps by WhiteNoise (no collectstatic step for a newcomer);
# production may still collect them into the data folder for a front proxy.
STATIC_ROOT = ENV.data_dir / "static" if ENV.is_production else None
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

NINJA_PAGINATION_PER_PAGE = 50

LOGGING = logging_config(level=ENV.log_level, json=ENV.log_format == "json")

SOUSCRIPTION = ENV
