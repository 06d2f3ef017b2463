"""Production settings: `check --deploy` is clean, and secrets have no defaults."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]


def _manage(*args, env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(DJANGO_SETTINGS_MODULE="banksight.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _production_env() -> dict:
    return {
        "DJANGO_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_ALLOWED_HOSTS": "bank.example.com",
        "FIELD_ENCRYPTION_KEYS": f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
        "FIELD_ENCRYPTION_KEY_ID": "k1",
        "FIELD_HASH_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def test_check_deploy_is_clean_in_production():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env_overrides=_production_env()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = _production_env()
    env["DJANGO_SECRET_KEY"] = ""
    result = _manage("check", env_overrides={**env, "DJANGO_SECRET_KEY": ""})
    assert result.returncode != 0


def test_production_never_starts_private_servers():
    env = _production_env()
    env.pop("DATABASE_URL")
    result = _manage("check", env_overrides=env)
    assert result.returncode != 0
    assert "DATABASE_URL and REDIS_URL are required in production" in result.stderr


def test_pages_carry_security_headers(client, db):
    response = client.get("/login/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_sessions_are_stored_server_side(client, customer):
    from django.contrib.sessions.models import Session

    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    client.force_login(customer)
    assert Session.objects.filter(session_key=client.session.session_key).exists()
