from django.apps import AppConfig


class ChatConfig(AppConfig):
    """Conversations, the assistant and human handoff."""

    name = "apps.chat"
    label = "chat"
    verbose_name = "Chat"
