"""API of the model registry and its benchmarks (/api/v1/assistant/...)."""

urlpatterns: list = []
