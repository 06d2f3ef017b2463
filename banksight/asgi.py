"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "banksight.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from apps.chat.ws_auth import JwtHeaderAuthMiddleware, OriginOrBearerValidator  # noqa: E402
from banksight.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginOrBearerValidator(
            AuthMiddlewareStack(JwtHeaderAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
