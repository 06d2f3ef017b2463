from http import HTTPStatus

from banksight.errors import BankError


class MfaCodeInvalid(BankError):
    code = "mfa_code_invalid"
    default_message = "That code is not valid. Check the time on your phone and try a new code."


class UnknownLockout(BankError):
    code = "not_found"
    status = HTTPStatus.NOT_FOUND
    default_message = "There is no lockout for that username."


class RefreshTokenInvalid(BankError):
    code = "token_invalid"
    default_message = "The refresh token is not valid."


class NotFound(BankError):
    """Unknown, or someone else's: the two are never told apart."""

    code = "not_found"
    status = HTTPStatus.NOT_FOUND
    default_message = "Not found."


class PaymentInvalid(BankError):
    code = "invalid"
    default_message = "Some fields are not valid."


class InsufficientFunds(BankError):
    code = "insufficient_funds"
    default_message = "There is not enough money in this account."


class AccountNotOpen(BankError):
    code = "account_not_open"
    default_message = "This account cannot make or receive payments right now."


class IdempotencyKeyReused(BankError):
    code = "idempotency_key_reused"
    status = HTTPStatus.UNPROCESSABLE_ENTITY
    default_message = (
        "This Idempotency-Key was already used for a different payment. "
        "Use a new key for a new payment."
    )


class InvalidState(BankError):
    code = "invalid_state"
    status = HTTPStatus.CONFLICT
    default_message = "This cannot be done in the current state."


class LedgerUnbalanced(BankError):
    code = "ledger_unbalanced"
    status = HTTPStatus.INTERNAL_SERVER_ERROR
    default_message = "A journal entry must balance."
