"""Roles are Django groups whose permissions are defined here, in code, and synced on migrate."""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    SUPPORT_AGENT = "support_agent", "Support agent"
    FRAUD_ANALYST = "fraud_analyst", "Fraud analyst"
    KYC_OFFICER = "kyc_officer", "KYC officer"
    COMPLIANCE_OFFICER = "compliance_officer", "Compliance officer"
    ADMINISTRATOR = "administrator", "Administrator"


STAFF_ROLES = frozenset(Role) - {Role.CUSTOMER}

_BACK_OFFICE = ["accounts.access_back_office"]
_CHAT_AGENT = [
    "chat.handle_conversations",
    "chat.view_customer_360",
    "chat.reveal_personal_data",
    "chat.view_handoff_metrics",
]

# "app_label.codename" for each role. Later issues add their apps' permissions here.
ROLE_PERMISSIONS: dict[Role, list[str]] = {
    Role.CUSTOMER: [],
    Role.SUPPORT_AGENT: [*_BACK_OFFICE, *_CHAT_AGENT, "chat.manage_canned_responses"],
    Role.FRAUD_ANALYST: [*_BACK_OFFICE, *_CHAT_AGENT],
    Role.KYC_OFFICER: [*_BACK_OFFICE, "chat.view_customer_360"],
    Role.COMPLIANCE_OFFICER: [
        *_BACK_OFFICE,
        "accounts.view_login_lockouts",
        "accounts.view_audit_trail",
        "auditlog.view_logentry",
        "chat.view_model_metrics",
        "chat.view_customer_360",
        "chat.reveal_personal_data",
        "chat.supervise_conversations",
        "chat.export_transcripts",
        "chat.view_handoff_metrics",
    ],
    Role.ADMINISTRATOR: [
        *_BACK_OFFICE,
        "accounts.view_login_lockouts",
        "accounts.unlock_login",
        "accounts.view_audit_trail",
        "accounts.deactivate_user",
        "accounts.view_user",
        "accounts.change_user",
        "auth.view_group",
        "auditlog.view_logentry",
        "axes.view_accessattempt",
        "axes.delete_accessattempt",
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        "chat.view_model_metrics",
        "chat.manage_model_backends",
        *_CHAT_AGENT,
        "chat.supervise_conversations",
        "chat.export_transcripts",
        "chat.manage_canned_responses",
    ],
}


def roles_sync(*, using: str = "default") -> None:
    """Create the role groups and set exactly the permissions listed above."""
    from django.contrib.auth.models import Group, Permission

    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=role.value)
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            perm = (
                Permission.objects.using(using)
                .filter(content_type__app_label=app_label, codename=codename)
                .first()
            )
            if perm is not None:  # an app not yet migrated in this run; synced next time
                wanted.append(perm)
        group.permissions.set(wanted)
