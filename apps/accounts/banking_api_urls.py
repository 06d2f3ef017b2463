"""Banking endpoints of the mobile API, mounted under /api/v1/ by banksight.urls.

The URL names (in the `api` namespace) are a contract the mobile app codes against.
"""

from django.urls import path

from apps.accounts import banking_api as api

urlpatterns: list = [
    path("accounts/", api.AccountListApi.as_view(), name="account-list"),
    path("accounts/<int:id>/", api.AccountDetailApi.as_view(), name="account-detail"),
    path(
        "accounts/<int:id>/transactions/",
        api.AccountTransactionListApi.as_view(),
        name="account-transactions",
    ),
    path(
        "accounts/<int:id>/statement/",
        api.AccountStatementApi.as_view(),
        name="account-statement",
    ),
    path("payments/", api.PaymentListCreateApi.as_view(), name="payment-list"),
    path("payments/<int:id>/", api.PaymentDetailApi.as_view(), name="payment-detail"),
    path("payees/", api.PayeeListCreateApi.as_view(), name="payee-list"),
    path("payees/<int:id>/", api.PayeeDetailApi.as_view(), name="payee-detail"),
    path("cards/", api.CardListApi.as_view(), name="card-list"),
    path("cards/<int:id>/", api.CardDetailApi.as_view(), name="card-detail"),
    path("cards/<int:id>/freeze/", api.CardFreezeApi.as_view(), name="card-freeze"),
    path("cards/<int:id>/unfreeze/", api.CardUnfreezeApi.as_view(), name="card-unfreeze"),
    path(
        "loans/prequalifications/",
        api.LoanPrequalificationListCreateApi.as_view(),
        name="loan-prequalification-list",
    ),
    path(
        "loans/prequalifications/<int:id>/",
        api.LoanPrequalificationDetailApi.as_view(),
        name="loan-prequalification-detail",
    ),
    path("standing-orders/", api.StandingOrderListApi.as_view(), name="standing-order-list"),
    path(
        "standing-orders/<int:id>/",
        api.StandingOrderDetailApi.as_view(),
        name="standing-order-detail",
    ),
]
