"""Staff pages of the model registry: backends, switching, benchmarks."""

from django.urls import path

from apps.chat import registry_views

urlpatterns = [
    path("backends/", registry_views.ModelBackendListView.as_view(), name="model-backends"),
    path(
        "backends/<slug:name>/activate/",
        registry_views.ModelBackendActivateView.as_view(),
        name="model-backend-activate",
    ),
    path("benchmarks/", registry_views.BenchmarkListView.as_view(), name="benchmarks"),
    path("benchmarks/run/", registry_views.BenchmarkRunCreateView.as_view(), name="benchmark-run"),
    path(
        "benchmarks/<uuid:run_id>/",
        registry_views.BenchmarkDetailView.as_view(),
        name="benchmark-detail",
    ),
]
