from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

from apps.accounts.models import User
from apps.compliance.audit import audit_actor_bind


class AuditedJWTAuthentication(JWTAuthentication):
    """JWT auth that also names the user as the actor of audit entries for this request.

    AuditlogMiddleware runs before DRF authenticates a bearer token, so without this an
    API change would be logged without its actor.
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            audit_actor_bind(actor=result[0])
        return result

    def get_user(self, validated_token):
        # simplejwt's own lookup, with the customer profile in the same query: nearly every
        # API call needs it. (CHECK_REVOKE_TOKEN is not used here.)
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        try:  # get(), not first(): no ORDER BY username to build and run on every call
            user = User.objects.select_related("customer").get(
                **{api_settings.USER_ID_FIELD: user_id}
            )
        except User.DoesNotExist as error:
            raise AuthenticationFailed("User not found", code="user_not_found") from error
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        return user


class AuditedJWTScheme(SimpleJWTScheme):
    """Documents AuditedJWTAuthentication as the bearer scheme in the OpenAPI schema."""

    target_class = "apps.accounts.authentication.AuditedJWTAuthentication"
    name = "jwtAuth"
