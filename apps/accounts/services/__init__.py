"""Writes of the accounts app, one module per area. People services are re-exported here."""

from apps.accounts.services.people import (
    MFA_DEVICE_NAME,
    login_lockout_clear,
    mfa_device_confirm,
    mfa_device_start,
    mfa_token_check,
    refresh_token_revoke,
    user_create,
    user_deactivate,
    user_role_set,
)

__all__ = [
    "MFA_DEVICE_NAME",
    "login_lockout_clear",
    "mfa_device_confirm",
    "mfa_device_start",
    "mfa_token_check",
    "refresh_token_revoke",
    "user_create",
    "user_deactivate",
    "user_role_set",
]
