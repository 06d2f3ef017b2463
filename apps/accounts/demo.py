"""Demo people for development: customers and one member of staff per role."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts import services
from apps.accounts.models import User
from apps.accounts.roles import STAFF_ROLES, Role


@dataclass(frozen=True)
class DemoPerson:
    username: str
    role: Role
    first_name: str
    last_name: str


DEMO_PEOPLE = [
    DemoPerson("alice", Role.CUSTOMER, "Alice", "Andersen"),
    DemoPerson("bob", Role.CUSTOMER, "Bob", "Brennan"),
    DemoPerson("carol", Role.CUSTOMER, "Carol", "Castillo"),
    DemoPerson("dave", Role.CUSTOMER, "Dave", "Dlamini"),
    DemoPerson("agent", Role.SUPPORT_AGENT, "Amira", "Agent"),
    DemoPerson("analyst", Role.FRAUD_ANALYST, "Felix", "Analyst"),
    DemoPerson("kyc", Role.KYC_OFFICER, "Kim", "Officer"),
    DemoPerson("compliance", Role.COMPLIANCE_OFFICER, "Connor", "Compliance"),
    DemoPerson("admin", Role.ADMINISTRATOR, "Ada", "Admin"),
]


@transaction.atomic
def demo_people_seed() -> list[User]:
    """Create or refresh the demo people; running it twice changes nothing."""
    password = settings.DEMO_PASSWORD
    users = []
    for person in DEMO_PEOPLE:
        user = User.objects.filter(username=person.username).first()
        if user is None:
            user = services.user_create(
                username=person.username,
                password=password,
                role=person.role,
                first_name=person.first_name,
                last_name=person.last_name,
                email=f"{person.username}@demo.banksight.test",
            )
        else:
            if user.role != person.role:
                services.user_role_set(user=user, role=person.role)
            if not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
        if (
            person.role in STAFF_ROLES
            and not TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        ):
            # Staff must have MFA; demo staff get a device whose secret demo_logins prints.
            TOTPDevice.objects.create(user=user, name=services.MFA_DEVICE_NAME, confirmed=True)
        users.append(user)
    return users


def demo_logins() -> list[dict]:
    rows = []
    for person in DEMO_PEOPLE:
        user = User.objects.filter(username=person.username).first()
        if user is None:
            continue
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        rows.append(
            {
                "username": user.username,
                "role": person.role.value,
                "password": settings.DEMO_PASSWORD,
                "totp_secret": base64.b32encode(device.bin_key).decode() if device else None,
                "login_url": "/staff/login/" if person.role in STAFF_ROLES else "/login/",
            }
        )
    return rows
