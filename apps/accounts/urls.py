from django.urls import include, path

from apps.accounts import portal_views, security_views, session_views, views

app_name = "accounts"

urlpatterns = [
    path("", portal_views.DashboardView.as_view(), name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/verify/", views.MfaVerifyView.as_view(), name="mfa-verify"),
    path("logout/", views.SignOutView.as_view(), name="logout"),
    path("security/mfa/", views.CustomerMfaEnrolView.as_view(), name="mfa-enrol"),
    path("security/", security_views.SecurityView.as_view(), name="security"),
    path(
        "security/sign-out-everywhere/",
        session_views.SignOutEverywhereView.as_view(),
        name="sign-out-everywhere",
    ),
    path("session/status/", session_views.SessionStatusView.as_view(), name="session-status"),
    path(
        "session/keep-alive/",
        session_views.SessionKeepAliveView.as_view(),
        name="session-keep-alive",
    ),
    path(
        "security/authenticator/remove/",
        security_views.MfaRemoveView.as_view(),
        name="mfa-remove",
    ),
    path(
        "security/password/",
        security_views.CustomerPasswordChangeView.as_view(),
        name="password-change",
    ),
    path("password-reset/", security_views.PasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        security_views.PasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        security_views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        security_views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("", include("apps.accounts.portal_urls")),
]
