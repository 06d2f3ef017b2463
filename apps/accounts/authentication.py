import time

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token

from apps.accounts.models import User
from apps.accounts.services.tokens import access_token_is_revoked
from apps.accounts.signin import mfa_session_refused
from apps.compliance.audit import audit_actor_bind
from banksight.prepared_queries import PreparedQuery

# The bearer token's user with the customer profile, in one query: nearly every API call
# needs both. Its SQL is built once (it ran on every request: ~0.5 ms of ORM work).
_user_with_customer = PreparedQuery(
    lambda user_id: User.objects.select_related("customer").filter(pk=user_id).order_by(),
    params=("user_id",),
)


# Bearer tokens whose signature and claims were checked, until they expire. The app sends
# the same access token for up to 15 minutes; checking it again (base64, JSON, HMAC) cost
# ~0.1 ms a request. The user is still read on every request, so a deactivated user is
# refused at once. Bounded: emptied when full.
_VALIDATED_TOKENS_MAX = 10_000
_validated_tokens: dict[bytes, Token] = {}


class AuditedJWTAuthentication(JWTAuthentication):
    """JWT auth that also names the user as the actor of audit entries for this request.

    The audit middleware runs before DRF authenticates a bearer token, so without this an
    API change would be logged without its actor.
    """

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = _validated_tokens.get(raw_token)
        if token is None or token.payload["exp"] <= time.time():
            token = super().get_validated_token(raw_token)
            if len(_validated_tokens) >= _VALIDATED_TOKENS_MAX:
                _validated_tokens.clear()
            _validated_tokens[raw_token] = token
        # Revocation (logout, sign out everywhere) is checked on every request, also for a
        # token remembered above: one Redis round trip.
        if access_token_is_revoked(token=token):
            raise InvalidToken("This token was revoked: sign in again.")
        return token

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            audit_actor_bind(actor=result[0])
        return result

    def get_user(self, validated_token):
        # simplejwt's own checks, with the user and customer profile from one prepared
        # query (USER_ID_FIELD is the primary key; CHECK_REVOKE_TOKEN is not used here).
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        # simplejwt writes the id as a string; the prepared query takes an integer.
        user_id = str(user_id)
        if not (user_id.isascii() and user_id.isdigit()):
            raise InvalidToken("Token contained no recognizable user identification")
        found = _user_with_customer(user_id=int(user_id))
        if not found:
            raise AuthenticationFailed("User not found", code="user_not_found")
        user = found[0]
        if not user.is_active:
            raise AuthenticationFailed("User is inactive", code="user_inactive")
        if user.is_bank_staff:
            # Staff cannot obtain tokens; one that exists anyway (issued before a role
            # change, or by hand) must not get around the back office's MFA.
            raise AuthenticationFailed(
                "Bank staff use the back office, not the API with a token.", code="staff_token"
            )
        return user


class MfaSessionAuthentication(SessionAuthentication):
    """DRF's session authentication, refused (401) until the session passed the second
    factor where one is needed: staff always, customers who confirmed an authenticator."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and mfa_session_refused(result[0]):
            raise AuthenticationFailed(
                "Finish signing in with the code from your authenticator app.",
                code="mfa_required",
            )
        return result


class AuditedJWTScheme(SimpleJWTScheme):
    """Documents AuditedJWTAuthentication as the bearer scheme in the OpenAPI schema."""

    target_class = "apps.accounts.authentication.AuditedJWTAuthentication"
    name = "jwtAuth"


class MfaSessionScheme(SessionScheme):
    """Documents MfaSessionAuthentication as the cookie scheme in the OpenAPI schema."""

    target_class = "apps.accounts.authentication.MfaSessionAuthentication"
