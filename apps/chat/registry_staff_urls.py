"""Staff pages of the model registry: backends, switching, benchmarks."""

urlpatterns: list = []
