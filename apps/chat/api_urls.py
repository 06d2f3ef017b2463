"""Mobile API of the assistant, mounted under /api/v1/ by banksight.urls."""

from django.urls import include, path

urlpatterns = [
    path("assistant/", include("apps.chat.registry_api_urls")),
]
