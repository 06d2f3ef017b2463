"""Back-office pages of the assistant, mounted at /staff/assistant/."""

from django.urls import include, path

app_name = "assistant"

urlpatterns = [
    path("", include("apps.chat.registry_staff_urls")),
]
