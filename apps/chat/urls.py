"""Customer chat pages, mounted at /chat/."""

from django.urls import path

from apps.chat import views

app_name = "chat"

urlpatterns = [
    path("", views.ConversationListView.as_view(), name="conversation-list"),
    path("<uuid:conversation_id>/", views.ConversationView.as_view(), name="conversation"),
    path("<uuid:conversation_id>/send/", views.MessageSendView.as_view(), name="message-send"),
    path("<uuid:conversation_id>/escalate/", views.EscalateView.as_view(), name="escalate"),
    path("<uuid:conversation_id>/survey/", views.SurveyView.as_view(), name="survey"),
    path("help/<slug:slug>/", views.ArticleView.as_view(), name="article"),
]
