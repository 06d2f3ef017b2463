from django.contrib import admin

from apps.chat.models import Conversation, KnowledgeArticle, Message, ModelBackend


@admin.register(KnowledgeArticle)
class KnowledgeArticleAdmin(admin.ModelAdmin):
    """The assistant's help and policy articles. An unpublished article is never searched.

    Seeded articles are created at migrate when missing and never overwritten, so edits
    here stay. `search_vector` is computed by PostgreSQL from the title and body.
    """

    list_display = ("title", "slug", "category", "published", "updated_at")
    list_filter = ("published", "category")
    search_fields = ("title", "slug", "body")
    prepopulated_fields = {"slug": ("title",)}
    fields = ("title", "slug", "category", "body", "published", "updated_at")
    readonly_fields = ("updated_at",)


class MessageInline(admin.TabularInline):
    """The transcript as staff see it: masked, never the customer's raw values."""

    model = Message
    fk_name = "conversation"
    fields = ("id", "role", "status", "masked_text", "guard_reasons", "backend", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations and the human queue: filter by status "Waiting for a person"."""

    list_display = ("id", "customer", "status", "escalation_reason", "escalated_at", "updated_at")
    list_filter = ("status", "escalation_reason")
    search_fields = ("id", "customer__user__username")
    ordering = ("-updated_at",)
    fields = (
        "id",
        "customer",
        "title",
        "status",
        "escalation_reason",
        "escalated_at",
        "guard_refusals",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = [MessageInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ModelBackend)
class ModelBackendAdmin(admin.ModelAdmin):
    """Backends of the assistant. Switch the active one on /staff/assistant/backends/
    (it locks and audits the switch); here: URLs, parameters, the fallback order."""

    list_display = ("name", "kind", "model", "enabled", "is_active", "fallback_order")
    list_filter = ("kind", "enabled", "is_active")
    readonly_fields = ("is_active",)
