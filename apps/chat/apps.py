from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


class ChatConfig(AppConfig):
    """Conversations, the assistant and human handoff."""

    name = "apps.chat"
    label = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        # The seeded knowledge base: created after every migrate (and after the test
        # runner's flushes) when missing; articles staff edited are never overwritten.
        post_migrate.connect(
            _sync_articles, sender=self, dispatch_uid="chat.knowledge.articles_sync"
        )


def _sync_articles(sender, **kwargs) -> None:
    using = kwargs.get("using", "default")
    from apps.chat.models import KnowledgeArticle

    # `migrate chat zero` also ends with post_migrate: there is no table to fill then.
    if KnowledgeArticle._meta.db_table not in connections[using].introspection.table_names():
        return
    from apps.chat.knowledge import articles_sync

    articles_sync(using=using)
