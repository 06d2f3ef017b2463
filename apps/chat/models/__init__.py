"""Conversations, the assistant's knowledge base and proposed actions, the model registry."""

from apps.chat.models.conversation import (
    ActionProposal,
    Conversation,
    KnowledgeArticle,
    Message,
    MessageFeedback,
)

__all__ = [
    "ActionProposal",
    "Conversation",
    "KnowledgeArticle",
    "Message",
    "MessageFeedback",
]
