"""Reads of the accounts app, one module per area. People selectors are re-exported here."""

from apps.accounts.selectors.people import (
    login_lockout_list,
    mfa_device_get_confirmed,
    user_profile,
)

__all__ = ["login_lockout_list", "mfa_device_get_confirmed", "user_profile"]
