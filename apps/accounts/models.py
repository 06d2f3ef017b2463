from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from apps.accounts.roles import STAFF_ROLES, Role


class User(AbstractUser):
    """A person who logs in: a customer or a member of staff, never both.

    The role is the user's one role group (see `roles.py`); `is_staff` mirrors whether
    that role belongs to the back office.
    """

    email = models.EmailField("email address", blank=True)

    class Meta:
        ordering = ["username"]
        permissions = [
            ("access_back_office", "Can open the staff back office"),
            ("view_login_lockouts", "Can see locked-out logins"),
            ("unlock_login", "Can unlock a locked-out login"),
            ("view_audit_trail", "Can read the audit trail"),
            ("deactivate_user", "Can deactivate a user and revoke their sessions"),
        ]

    @property
    def role(self) -> Role | None:
        cached = getattr(self, "_role_cache", None)
        if cached is None:
            names = {group.name for group in self.groups.all()}
            cached = next((role for role in Role if role.value in names), False)
            self._role_cache = cached
        return cached or None

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER and not self.is_staff

    @property
    def is_bank_staff(self) -> bool:
        return self.is_staff and self.role in STAFF_ROLES
