from http import HTTPStatus

from banksight.errors import BankError


class DisputeInvalid(BankError):
    code = "invalid"
    default_message = "Some fields are not valid."


class DisputeExists(BankError):
    code = "dispute_exists"
    status = HTTPStatus.CONFLICT
    default_message = (
        "This transaction is already being disputed. We will tell you when we have an outcome."
    )
