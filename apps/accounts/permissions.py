from rest_framework.permissions import BasePermission


class IsCustomer(BasePermission):
    """Banking endpoints are for customers with a profile; staff use the back office."""

    message = "These endpoints are for customers."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_customer)
