"""Back-office pages around the handoff, included into the "staff" namespace at /staff/:
customers (the customer 360), canned responses, transcript export."""

from django.urls import path

from apps.accounts import staff_customer_views as customers
from apps.chat import canned_views, transcript_views

urlpatterns = [
    path("customers/", customers.CustomerSearchView.as_view(), name="customers"),
    path("customers/<int:customer_id>/", customers.Customer360View.as_view(), name="customer-360"),
    path(
        "customers/<int:customer_id>/reveal/",
        customers.CustomerRevealView.as_view(),
        name="customer-reveal",
    ),
    path(
        "customers/<int:customer_id>/vulnerable/",
        customers.CustomerVulnerableView.as_view(),
        name="customer-vulnerable",
    ),
    path(
        "canned-responses/", canned_views.CannedResponseListView.as_view(), name="canned-responses"
    ),
    path(
        "canned-responses/new/",
        canned_views.CannedResponseCreateView.as_view(),
        name="canned-response-new",
    ),
    path(
        "canned-responses/<int:canned_id>/",
        canned_views.CannedResponseEditView.as_view(),
        name="canned-response-edit",
    ),
    path(
        "canned-responses/<int:canned_id>/active/",
        canned_views.CannedResponseActiveView.as_view(),
        name="canned-response-active",
    ),
    path(
        "chat/<uuid:conversation_id>/transcript/",
        transcript_views.TranscriptExportView.as_view(),
        name="transcript-export",
    ),
    path(
        "chat/<uuid:conversation_id>/transcript.txt",
        transcript_views.TranscriptTextView.as_view(),
        name="transcript-text",
    ),
]
