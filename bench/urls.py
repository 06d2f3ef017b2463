"""The application's URLs plus a bare authenticated endpoint to compare against."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView


class BareApi(APIView):
    """Authentication, throttling and rendering, and nothing else: the benchmark baseline."""

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/v1/bench/bare", BareApi.as_view()),
    path("", include("banksight.urls")),
]
