"""Websocket sign-in for the mobile app: `Authorization: Bearer <access token>` on the
handshake. Browsers have no way to set that header and use their session cookie instead
(Channels' AuthMiddlewareStack, which runs first)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from rest_framework.exceptions import AuthenticationFailed


@database_sync_to_async
def _user_for_token(raw: str):
    # The API's authentication: a revoked token (logout, sign out everywhere) is refused
    # here as on every API request.
    from apps.accounts.authentication import AuditedJWTAuthentication

    auth = AuditedJWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(raw.encode()))
    except AuthenticationFailed:  # simplejwt's InvalidToken is one too
        return None


class JwtHeaderAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"authorization", b"").decode("latin-1")
        if header.lower().startswith("bearer "):
            user = await _user_for_token(header[7:].strip())
            scope = dict(scope)
            if user is not None:
                scope["user"] = user
            else:
                from django.contrib.auth.models import AnonymousUser

                scope["user"] = AnonymousUser()  # a bad token never falls back to a cookie
        return await super().__call__(scope, receive, send)


def has_bearer(scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return True
    return False


class OriginOrBearerValidator:
    """Cookie-authenticated sockets must come from our own pages (the Origin check stops
    other sites from riding a customer's session). A native app sends no Origin but a
    bearer token, which a foreign page cannot make the browser send."""

    def __init__(self, application):
        from channels.security.websocket import AllowedHostsOriginValidator

        self.checked = AllowedHostsOriginValidator(application)
        self.application = application

    async def __call__(self, scope, receive, send):
        has_origin = any(name == b"origin" for name, _ in scope.get("headers") or [])
        if not has_origin and has_bearer(scope):
            return await self.application(scope, receive, send)
        return await self.checked(scope, receive, send)
