from rest_framework.permissions import BasePermission


class IsCustomer(BasePermission):
    """Banking endpoints are for customers; staff use the back office.

    It checks the role only: a customer without a profile passes, and the views answer
    with empty lists, 404 on details and 403 on writes.
    """

    message = "These endpoints are for customers."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_customer)
