from django.contrib import admin

from apps.fraud.models import Dispute


@admin.register(Dispute)
class DisputeAdmin(admin.ModelAdmin):
    """Disputes are opened by customers; staff move them along by their status only."""

    list_display = ("id", "created_at", "customer", "reason", "status", "posting")
    list_filter = ("status", "reason")
    search_fields = ("=id", "customer__last_name", "customer__first_name")
    list_select_related = ("customer", "posting")
    fields = (
        "customer",
        "posting",
        "reason",
        "description",
        "status",
        "opened_by",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "customer",
        "posting",
        "reason",
        "description",
        "opened_by",
        "created_at",
        "updated_at",
    )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
