"""Mobile API, banking: accounts, history, statements, payments, payees, cards, loan
pre-qualification and standing orders.

Every endpoint is for customers (IsCustomer: staff get 403, anonymous callers 401). Reads go
through the customer-scoped selectors, so someone else's id is a 404 like a missing one;
writes go through the services, which validate and raise BankErrors that the API's
exception handler turns into `{code, message, fields}`. Money is always a decimal string
with the currency's decimals ("1234.50"), never a JSON number.

A customer user without a Customer profile owns nothing: lists are empty, a detail is a
404 and a write is a 403. The selectors must never see `customer=None` (an account
filter on `customer=None` would match the bank's internal accounts).
"""

from apps.accounts.banking_api.accounts import (
    AccountDetailApi,
    AccountListApi,
    AccountStatementApi,
    AccountTransactionListApi,
)
from apps.accounts.banking_api.cards import (
    CardDetailApi,
    CardFreezeApi,
    CardListApi,
    CardUnfreezeApi,
)
from apps.accounts.banking_api.loans import (
    LoanPrequalificationDetailApi,
    LoanPrequalificationListCreateApi,
)
from apps.accounts.banking_api.payees import PayeeDetailApi, PayeeListCreateApi
from apps.accounts.banking_api.payments import PaymentDetailApi, PaymentListCreateApi
from apps.accounts.banking_api.standing_orders import StandingOrderDetailApi, StandingOrderListApi

__all__ = [
    "AccountDetailApi",
    "AccountListApi",
    "AccountStatementApi",
    "AccountTransactionListApi",
    "CardDetailApi",
    "CardFreezeApi",
    "CardListApi",
    "CardUnfreezeApi",
    "LoanPrequalificationDetailApi",
    "LoanPrequalificationListCreateApi",
    "PayeeDetailApi",
    "PayeeListCreateApi",
    "PaymentDetailApi",
    "PaymentListCreateApi",
    "StandingOrderDetailApi",
    "StandingOrderListApi",
]
