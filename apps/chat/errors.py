from http import HTTPStatus

from banksight.errors import BankError


class MessageInvalid(BankError):
    code = "invalid"
    default_message = "Some fields are not valid."


class ConversationClosed(BankError):
    code = "conversation_closed"
    status = HTTPStatus.CONFLICT
    default_message = "This conversation is closed. Start a new one to keep chatting."
