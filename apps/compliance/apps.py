from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ComplianceConfig(AppConfig):
    """Audit trail, retention, PII, guards and reports."""

    name = "apps.compliance"
    label = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from apps.compliance import audit, signals  # noqa: F401 - connects receivers

        audit.register_audited_models()
        audit.audit_context_connect()
        # After every migrate and every flush, as the owner: the application's role may only
        # read and add to the append-only tables (apps/compliance/privileges.py).
        post_migrate.connect(_sync_privileges, sender=self, dispatch_uid="compliance.privileges")


def _sync_privileges(sender, using="default", **kwargs) -> None:
    from apps.compliance.privileges import database_privileges_sync

    database_privileges_sync(using=using)
