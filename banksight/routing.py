"""Websocket routes of every app, mounted by banksight.asgi."""

websocket_urlpatterns: list = []
