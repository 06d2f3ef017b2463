"""API of the model registry and its benchmarks (/api/v1/assistant/...)."""

from django.urls import path

from apps.chat.registry_api import BenchmarkSummaryApi

urlpatterns = [
    path("benchmarks/summary", BenchmarkSummaryApi.as_view(), name="assistant-benchmarks-summary"),
]
