"""Conversations, the assistant's knowledge base and proposed actions, the model registry."""

from apps.chat.models.conversation import (
    ActionProposal,
    Conversation,
    KnowledgeArticle,
    Message,
    MessageFeedback,
)
from apps.chat.models.handoff import (
    AgentPresence,
    CannedResponse,
    HandoffEvent,
    InternalNote,
    SatisfactionSurvey,
)
from apps.chat.models.registry import BenchmarkResult, BenchmarkRun, InferenceCall, ModelBackend

__all__ = [
    "ActionProposal",
    "AgentPresence",
    "BenchmarkResult",
    "BenchmarkRun",
    "CannedResponse",
    "Conversation",
    "HandoffEvent",
    "InferenceCall",
    "InternalNote",
    "KnowledgeArticle",
    "Message",
    "MessageFeedback",
    "ModelBackend",
    "SatisfactionSurvey",
]
