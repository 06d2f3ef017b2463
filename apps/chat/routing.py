from django.urls import path

from apps.chat.consumers import ChatConsumer
from apps.chat.staff_consumers import StaffChatConsumer

websocket_urlpatterns = [
    path("ws/chat/<str:conversation_id>/", ChatConsumer.as_asgi()),
    path("ws/staff/chat/<str:conversation_id>/", StaffChatConsumer.as_asgi()),
]
