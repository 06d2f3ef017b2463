"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "banksight.settings")
django.setup(set_prefix=False)

from django.conf import settings  # noqa: E402

from banksight.http_handler import ThreadPoolASGIHandler  # noqa: E402

django_asgi_app = ThreadPoolASGIHandler(threads=settings.HTTP_THREADS)

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
