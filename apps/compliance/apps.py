from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    """Audit trail, retention, PII, guards and reports."""

    name = "apps.compliance"
    label = "compliance"
    verbose_name = "Compliance"

    def ready(self) -> None:
        from apps.compliance import audit, signals  # noqa: F401 - connects receivers

        audit.register_audited_models()
        audit.audit_context_connect()
