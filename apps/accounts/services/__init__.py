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
from apps.accounts.services.security import (
    mfa_device_remove,
    password_reset_requests_record,
    user_password_change,
    user_password_reset,
)

__all__ = [
    "MFA_DEVICE_NAME",
    "login_lockout_clear",
    "mfa_device_confirm",
    "mfa_device_remove",
    "mfa_device_start",
    "mfa_token_check",
    "password_reset_requests_record",
    "refresh_token_revoke",
    "user_create",
    "user_deactivate",
    "user_password_change",
    "user_password_reset",
    "user_role_set",
]
