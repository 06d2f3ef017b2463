from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction

from apps.accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "email", "first_name", "last_name", "is_staff", "is_active")
    actions = ["deactivate_users"]

    @admin.action(description="Deactivate and sign out everywhere", permissions=["deactivate"])
    def deactivate_users(self, request, queryset):
        from apps.accounts.tasks import user_deactivate_task

        ids = list(queryset.filter(is_active=True).values_list("id", flat=True))
        for user_id in ids:
            transaction.on_commit(
                lambda user_id=user_id: user_deactivate_task.delay(
                    user_id=user_id, actor_id=request.user.id
                )
            )
        self.message_user(request, f"{len(ids)} user(s) will be deactivated.", messages.SUCCESS)

    def has_deactivate_permission(self, request):
        return request.user.has_perm("accounts.deactivate_user")
