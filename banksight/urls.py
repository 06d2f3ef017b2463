from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts.api import LogoutAllApi, LogoutApi, MeApi, TokenObtainApi, TokenRefreshApi
from banksight import health, metrics, views

admin.site.site_header = "BankSight administration"
admin.site.site_title = "BankSight admin"
admin.site.login = views.admin_login_redirect
admin.site.site_url = "/staff/"

api_v1 = [
    path("auth/token/", TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("auth/logout/", LogoutApi.as_view(), name="logout"),
    path("auth/logout-all/", LogoutAllApi.as_view(), name="logout-all"),
    path("me", MeApi.as_view(), name="me"),
    path("", include("apps.accounts.banking_api_urls")),
    path("", include("apps.chat.api_urls")),
    # Unknown API URLs answer in the API's error shape, also while DEBUG is on.
    re_path(r"^.*$", views.api_not_found),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # Swagger UI sets inline styles; its scripts still come only from our static files.
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="schema")
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
    path("staff/", include("apps.accounts.staff_urls")),
    path("chat/", include("apps.chat.urls")),
    path("", include("apps.accounts.urls")),
]

handler400 = "banksight.views.bad_request"
handler403 = "banksight.views.permission_denied"
handler404 = "banksight.views.page_not_found"
handler500 = "banksight.views.server_error"
