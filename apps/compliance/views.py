from auditlog.models import LogEntry
from django.views.generic import ListView

from apps.accounts.access import StaffPermissionMixin
from apps.compliance import selectors


class AuditTrailView(StaffPermissionMixin, ListView):
    permission = "accounts.view_audit_trail"
    template_name = "compliance/audit_trail.html"
    context_object_name = "entries"
    paginate_by = 50

    def get_queryset(self):
        action = self.request.GET.get("action", "")
        return selectors.audit_entry_list(
            query=self.request.GET.get("q", "").strip(),
            action=int(action) if action.isdigit() else None,
        )

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            actions=LogEntry.Action.choices,
            q=self.request.GET.get("q", ""),
            action=self.request.GET.get("action", ""),
            **kwargs,
        )


class SecurityEventListView(StaffPermissionMixin, ListView):
    permission = "accounts.view_login_lockouts"
    template_name = "compliance/security_events.html"
    context_object_name = "events"
    paginate_by = 50

    def get_queryset(self):
        return selectors.security_event_list(username=self.request.GET.get("username", "").strip())
