"""Websocket URLs of every app."""

from apps.chat.routing import websocket_urlpatterns as chat_websockets

websocket_urlpatterns: list = [*chat_websockets]
