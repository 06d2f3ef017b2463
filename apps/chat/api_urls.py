"""Mobile API of the assistant, mounted under /api/v1/ by banksight.urls."""

from django.urls import include, path

from apps.chat import api, sse

urlpatterns = [
    path("assistant/", include("apps.chat.registry_api_urls")),
    path("conversations/", api.ConversationListApi.as_view(), name="conversation-list"),
    path(
        "conversations/<uuid:conversation_id>/",
        api.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<uuid:conversation_id>/messages",
        api.MessageListApi.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<uuid:conversation_id>/messages/<int:message_id>/feedback",
        api.MessageFeedbackApi.as_view(),
        name="conversation-message-feedback",
    ),
    path(
        "conversations/<uuid:conversation_id>/events",
        api.documented_by(api.ConversationEventsApi)(sse.conversation_events),
        name="conversation-events",
    ),
    path(
        "conversations/<uuid:conversation_id>/stop",
        api.ConversationStopApi.as_view(),
        name="conversation-stop",
    ),
    path(
        "conversations/<uuid:conversation_id>/escalate",
        api.ConversationEscalateApi.as_view(),
        name="conversation-escalate",
    ),
    path(
        "conversations/<uuid:conversation_id>/actions/<uuid:action_id>/confirm",
        api.ActionConfirmApi.as_view(),
        name="conversation-action-confirm",
    ),
    path(
        "conversations/<uuid:conversation_id>/actions/<uuid:action_id>/decline",
        api.ActionDeclineApi.as_view(),
        name="conversation-action-decline",
    ),
]
