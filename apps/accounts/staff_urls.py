from django.urls import include, path

from apps.accounts import security_views, staff_views

app_name = "staff"

urlpatterns = [
    path("", staff_views.StaffHomeView.as_view(), name="home"),
    path("login/", staff_views.StaffSignInView.as_view(), name="login"),
    path("logout/", staff_views.StaffSignOutView.as_view(), name="logout"),
    path("mfa/enrol/", staff_views.StaffMfaEnrolView.as_view(), name="mfa-enrol"),
    path("mfa/verify/", staff_views.StaffMfaVerifyView.as_view(), name="mfa-verify"),
    path("password/", security_views.StaffPasswordChangeView.as_view(), name="password-change"),
    path("password-reset/", security_views.StaffPasswordResetView.as_view(), name="password-reset"),
    path(
        "password-reset/sent/",
        security_views.StaffPasswordResetDoneView.as_view(),
        name="password-reset-done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        security_views.StaffPasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password-reset/done/",
        security_views.StaffPasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
    path("security/lockouts/", staff_views.LockoutListView.as_view(), name="lockouts"),
    path("security/lockouts/unlock/", staff_views.LockoutClearView.as_view(), name="lockout-clear"),
    path("compliance/", include("apps.compliance.staff_urls")),
    path("assistant/", include("apps.chat.staff_urls")),
    path("", include("apps.chat.backoffice_urls")),
    path("chat/", include(("apps.chat.handoff_staff_urls", "handoff"), namespace="handoff")),
]
