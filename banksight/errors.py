"""The one exception type that services raise for a business rule a caller broke."""

from __future__ import annotations

from http import HTTPStatus


class BankError(Exception):
    """A business error with a stable code, a message for people and optional field errors.

    Subclasses set `code` and `status`; the API turns them into `{code, message, fields}`,
    the web views show `message` (and each field's errors beside the field).
    """

    code: str = "error"
    status: int = HTTPStatus.BAD_REQUEST
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None):
        self.message = message or self.default_message
        self.fields = fields or {}
        super().__init__(self.message)
