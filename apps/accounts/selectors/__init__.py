"""Reads of the accounts app, one module per area. People selectors are re-exported here."""

from apps.accounts.selectors.people import (
    login_lockout_list,
    mfa_device_get_confirmed,
    user_profile,
)
from apps.accounts.selectors.security import sign_in_list_recent

__all__ = ["login_lockout_list", "mfa_device_get_confirmed", "sign_in_list_recent", "user_profile"]
