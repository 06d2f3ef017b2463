from django.contrib import admin

from apps.compliance.models import SecurityEvent


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """Read-only: security events are append-only."""

    list_display = ("created_at", "kind", "username", "ip_address", "actor")
    list_filter = ("kind",)
    search_fields = ("username",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
