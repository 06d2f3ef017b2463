"""Banking endpoints of the mobile API, mounted under /api/v1/ by banksight.urls."""

urlpatterns: list = []
