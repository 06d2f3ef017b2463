from django.contrib import admin

from apps.chat.models import KnowledgeArticle


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
