"""Banking pages of the customer portal, mounted at / by apps.accounts.urls."""

from django.urls import path

from apps.accounts import portal_views as views

urlpatterns = [
    path("accounts/<int:account_id>/", views.AccountDetailView.as_view(), name="account-detail"),
    path(
        "accounts/<int:account_id>/statement.csv",
        views.StatementView.as_view(),
        name="statement",
    ),
    path("transfers/new/", views.TransferCreateView.as_view(), name="transfer-new"),
    path("transfers/confirm/", views.TransferConfirmView.as_view(), name="transfer-confirm"),
    path("payments/", views.PaymentListView.as_view(), name="payment-list"),
    path("payments/<int:payment_id>/", views.PaymentDetailView.as_view(), name="payment-detail"),
    path("payees/", views.PayeeListView.as_view(), name="payee-list"),
    path("payees/<int:payee_id>/delete/", views.PayeeDeleteView.as_view(), name="payee-delete"),
    path("cards/", views.CardListView.as_view(), name="card-list"),
    path("cards/<int:card_id>/freeze/", views.CardFreezeView.as_view(), name="card-freeze"),
    path("cards/<int:card_id>/unfreeze/", views.CardUnfreezeView.as_view(), name="card-unfreeze"),
    path("loans/prequalify/", views.LoanPrequalifyView.as_view(), name="loan-prequalify"),
    path(
        "loans/prequalifications/<int:pk>/",
        views.LoanPrequalificationDetailView.as_view(),
        name="loan-prequalification-detail",
    ),
    path("standing-orders/", views.StandingOrderListView.as_view(), name="standing-order-list"),
    path(
        "standing-orders/<int:order_id>/cancel/",
        views.StandingOrderCancelView.as_view(),
        name="standing-order-cancel",
    ),
]
