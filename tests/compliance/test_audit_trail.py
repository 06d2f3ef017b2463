"""The audit trail: complete registration, the acting user from every entry point, immutability."""

from __future__ import annotations

import pytest
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.compliance.audit import AUDIT_EXEMPT
from tests.helpers import PASSWORD, totp_code, wait_for


def test_every_model_in_apps_is_audited_or_exempt_with_a_reason():
    missing = []
    for model in apps.get_models():
        if not model.__module__.startswith("apps."):
            continue
        label = f"{model._meta.app_label}.{model.__name__}"
        if auditlog.contains(model):
            continue
        if AUDIT_EXEMPT.get(label, "").strip():
            continue
        missing.append(label)
    assert missing == [], f"register these in apps/compliance/audit.py or exempt them: {missing}"


def test_the_check_sees_the_models_of_apps():
    audited = [m for m in apps.get_models() if m.__module__.startswith("apps.")]
    assert {"User", "SecurityEvent"} <= {m.__name__ for m in audited}


def _any_entry(customer) -> LogEntry:
    return LogEntry.objects.get_for_object(customer).first()


# The application's role lacks UPDATE and DELETE there (tests/security/test_database_roles.py);
# the append-only trigger stops the owner too.
def test_raw_sql_update_on_the_audit_trail_is_rejected(customer):
    entry = _any_entry(customer)
    with (
        pytest.raises(DatabaseError, match="permission denied for table auditlog_logentry"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE auditlog_logentry SET object_repr = 'forged' WHERE id = %s", [entry.id]
        )
    entry.refresh_from_db()
    assert entry.object_repr != "forged"


def test_raw_sql_delete_on_the_audit_trail_is_rejected(customer):
    entry = _any_entry(customer)
    with (
        pytest.raises(DatabaseError, match="permission denied for table auditlog_logentry"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM auditlog_logentry WHERE id = %s", [entry.id])
    assert LogEntry.objects.filter(id=entry.id).exists()


def test_the_orm_cannot_delete_audit_entries_either(customer):
    with pytest.raises(DatabaseError), transaction.atomic():
        LogEntry.objects.filter(object_pk=str(customer.pk)).delete()


def test_a_web_change_records_the_user_ip_and_request_id(client, customer):
    client.force_login(customer)
    client.get("/security/mfa/")
    device = TOTPDevice.objects.get(user=customer)
    response = client.post(
        "/security/mfa/", {"token": totp_code(device)}, REMOTE_ADDR="203.0.113.7"
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get_for_object(device).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == customer
    assert entry.remote_addr == "203.0.113.7"
    assert entry.cid == response["X-Request-ID"]
    assert entry.changes_dict["confirmed"] == ["False", "True"]
    assert "key" not in entry.changes_dict  # the TOTP secret never enters the trail


def test_an_api_change_with_a_jwt_records_the_user(client, customer):
    tokens = client.post(
        "/api/v1/auth/token/",
        {"username": customer.username, "password": PASSWORD},
        content_type="application/json",
    ).json()
    response = client.post(
        "/api/v1/auth/logout/",
        {"refresh": tokens["refresh"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {tokens['access']}",
        REMOTE_ADDR="198.51.100.4",
    )
    assert response.status_code == 204
    entry = LogEntry.objects.filter(content_type__model="blacklistedtoken").get()
    assert entry.actor == customer
    assert entry.remote_addr == "198.51.100.4"
    assert entry.cid == response["X-Request-ID"]


@pytest.mark.worker
def test_a_celery_task_records_the_actor_passed_to_it(celery_worker, customer, administrator):
    from apps.accounts.tasks import user_deactivate_task

    user_deactivate_task.delay(user_id=customer.id, actor_id=administrator.id).get(timeout=30)
    customer.refresh_from_db()
    assert not customer.is_active
    entry = LogEntry.objects.get_for_object(customer).filter(action=LogEntry.Action.UPDATE).get()
    assert entry.actor == administrator
    assert entry.changes_dict["is_active"] == ["True", "False"]


@pytest.mark.worker
def test_an_admin_action_runs_on_the_worker_with_the_admins_request_id(
    celery_worker, customer, administrator, verified_client
):
    client = verified_client(administrator)
    response = client.post(
        "/admin/accounts/user/",
        {"action": "deactivate_users", "_selected_action": [customer.pk]},
    )
    assert response.status_code == 302
    request_id = response["X-Request-ID"]

    def deactivated_entry():
        return (
            LogEntry.objects.get_for_object(customer)
            .filter(action=LogEntry.Action.UPDATE, changes__icontains="is_active")
            .first()
        )

    entry = wait_for(deactivated_entry)
    assert entry.actor == administrator
    assert entry.cid == request_id  # the web request's id reached the task


def test_a_task_without_an_actor_is_refused(customer):
    from apps.accounts.tasks import user_deactivate_task

    with pytest.raises(TypeError, match="actor_id"):
        user_deactivate_task.apply(kwargs={"user_id": customer.id}, throw=True)
    customer.refresh_from_db()
    assert customer.is_active
