"""Staff pages of the human handoff: the queue and the agent console (/staff/chat/...)."""

from django.urls import path

from apps.chat import staff_views

urlpatterns = [
    path("", staff_views.QueueView.as_view(), name="queue"),
    path("presence/", staff_views.PresenceView.as_view(), name="presence"),
    path("<uuid:conversation_id>/", staff_views.ConsoleView.as_view(), name="console"),
    path("<uuid:conversation_id>/claim/", staff_views.ClaimView.as_view(), name="claim"),
    path("<uuid:conversation_id>/send/", staff_views.MessageSendView.as_view(), name="send"),
    path("<uuid:conversation_id>/note/", staff_views.NoteAddView.as_view(), name="note"),
    path("<uuid:conversation_id>/hand-back/", staff_views.HandBackView.as_view(), name="hand-back"),
    path("<uuid:conversation_id>/transfer/", staff_views.TransferView.as_view(), name="transfer"),
    path("<uuid:conversation_id>/close/", staff_views.CloseView.as_view(), name="close"),
]
