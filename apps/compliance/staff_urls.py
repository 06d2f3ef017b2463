from django.urls import path

from apps.compliance import views

app_name = "compliance"

urlpatterns = [
    path("audit/", views.AuditTrailView.as_view(), name="audit-trail"),
    path("security-events/", views.SecurityEventListView.as_view(), name="security-events"),
]
