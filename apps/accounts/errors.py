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
