from django.urls import include, path

from apps.accounts import portal_views, views

app_name = "accounts"

urlpatterns = [
    path("", portal_views.DashboardView.as_view(), name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/verify/", views.MfaVerifyView.as_view(), name="mfa-verify"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("security/mfa/", views.CustomerMfaEnrolView.as_view(), name="mfa-enrol"),
    path("", include("apps.accounts.portal_urls")),
]
